"""Text the agent reads: test reports, source listings, the localized context."""

from __future__ import annotations

import difflib
import re

from tracefix_rl.engines.judge import TestRun, defang

__all__ = ["ALL_PASSED_MARKER", "listing", "localized_context", "program_diff", "test_report"]

ALL_PASSED_MARKER = "SUCCESS: ALL TESTS PASSED"
_PROGRAM_OUTPUT_CAP = 1500


def listing(lines: list[str], anchor: int | None = None, lo: int = 1, hi: int | None = None) -> str:
    """Numbered lines ``lo..hi`` with ``▶`` marking ``anchor``.

    Result markers inside the source are neutralised (see :func:`defang`): a listing is
    environment output, and the exact text is always available in ``code_dict``.
    """
    hi = len(lines) if hi is None else min(hi, len(lines))
    out = []
    for n in range(max(lo, 1), hi + 1):
        mark = "▶" if n == anchor else " "
        out.append(f"{mark}{n:>3} | {lines[n - 1]}")
    return defang("\n".join(out))


def localized_context(lines: list[str], anchor: int | None, radius: int, max_chars: int) -> str:
    """A window of ``radius`` lines each side of ``anchor`` (the head of the file if none)."""
    if not lines:
        return "(the program is empty)"
    if anchor is None:
        text = listing(lines, None, 1, 2 * radius + 1)
    else:
        anchor = min(max(anchor, 1), len(lines))
        text = listing(lines, anchor, anchor - radius, anchor + radius)
    if len(text) > max_chars:
        text = text[:max_chars] + "\n[...context truncated...]"
    return text


def _cap(text: str, cap: int = _PROGRAM_OUTPUT_CAP) -> str:
    return text if len(text) <= cap else text[:cap] + f"\n[...truncated {len(text) - cap} chars...]"


def test_report(run: TestRun, lines: list[str], *, hidden: TestRun | None = None) -> str:  # noqa: C901
    """The RUN_TESTS / SUBMIT report: the pass count first, then each failure, then program output.

    The first line is always ``Tests Passed: k/N`` written by the environment, and the success
    marker appears only when every test passed. Program-produced text has had the markers
    neutralised (:func:`tracefix_rl.engines.judge.defang`).
    """
    parts = [f"Tests Passed: {run.passed}/{run.total}"]
    if hidden is not None:
        parts.append(f"Hidden tests passed: {hidden.passed}/{hidden.total}")
    if run.infra_error:
        parts.append("The sandbox failed to run the tests (infrastructure error); this run is not scored.")
        return "\n".join(parts)
    if run.syntax_error is not None:
        se = run.syntax_error
        parts.append("")
        parts.append(f"SyntaxError at line {se.get('line')}: {se.get('message')}")
        if se.get("text"):
            parts.append(f"  >> {defang(se['text'])}")
        return "\n".join(parts)
    if run.module_error is not None:
        me = run.module_error
        parts.append("")
        parts.append(defang(f"Loading the program raised {me.get('exc_type')}: {me.get('exc_message')}"))
        for lineno, func, text in me.get("traceback") or []:
            parts.append(defang(f"  line {lineno}, in {func}: {text}"))
    failed = [r for r in run.results if not r.passed]
    if not failed:
        passed_all = run.total > 0 and (hidden is None or hidden.passed == hidden.total)
        parts.append("")
        hint = "" if hidden is not None else " Use SUBMIT to finish."
        parts.append(f"{ALL_PASSED_MARKER}!{hint}" if passed_all else "All visible tests passed.")
    for r in failed:
        parts.append("")
        parts.append(f"FAILED {r.test_name} [{r.status}]")
        parts.append(f"  call:     {r.call}")
        parts.append(f"  expected: {r.expected}")
        if r.actual is not None:
            parts.append(f"  got:      {r.actual}")
        elif r.error_message:
            parts.append(f"  got:      {r.error_message}")
        if r.line is not None and 0 < r.line <= len(lines):
            parts.append(f"  at line {r.line}: {defang(lines[r.line - 1].strip())}")
        if r.stdout:
            parts.append("  printed by the program during this test:")
            parts.extend("    " + ln for ln in _cap(r.stdout, 400).splitlines())
    passed = [r.test_name for r in run.results if r.passed]
    if passed and failed:
        parts.append("")
        parts.append("PASSED " + ", ".join(passed))
    extra = (run.module_stdout + run.stdout).strip()
    if extra or run.stderr.strip():
        parts.append("")
        parts.append("--- output printed by the program (not part of the test results) ---")
        if extra:
            parts.append(_cap(extra))
        if run.stderr.strip():
            parts.append("[stderr]")
            parts.append(_cap(run.stderr.strip()))
    return "\n".join(parts)


_HUNK = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@$")
_CONTEXT = 3
_TRIM_FROM = 200


def program_diff(before: str, after: str, *, trim_from: int = _TRIM_FROM) -> str:
    """The unified diff (3 lines of context) from ``before`` to ``after`` as a recorded step stores it.

    For programs of ``trim_from`` lines or more, only the lines between the texts' common first
    and last lines (plus the context) are compared, so a one-line edit of a long program costs
    what it costs on a short one; the hunk headers carry the lines' numbers in the whole texts.
    The diff always turns ``before`` into ``after``; where lines repeat, it may pair them
    differently than a diff of the whole texts would.
    """
    if before == after:
        return ""
    a, b = before.splitlines(True), after.splitlines(True)
    if min(len(a), len(b)) < trim_from:
        return "".join(difflib.unified_diff(a, b, "before/program.py", "after/program.py"))
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    skip = max(0, head - _CONTEXT)
    keep_tail = max(0, tail - _CONTEXT)
    lines = difflib.unified_diff(a[skip: len(a) - keep_tail], b[skip: len(b) - keep_tail],
                                 "before/program.py", "after/program.py", n=_CONTEXT)
    if not skip:
        return "".join(lines)

    def shift(line: str) -> str:
        m = _HUNK.match(line.rstrip("\n"))
        if m is None:
            return line
        old, new = int(m[1]) + skip, int(m[3]) + skip
        return f"@@ -{old}{m[2]} +{new}{m[4]} @@\n"

    return "".join(shift(ln) if ln.startswith("@@") else ln for ln in lines)
