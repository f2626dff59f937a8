"""Text the agent reads: test reports, source listings, the localized context."""

from __future__ import annotations

from tracefix_rl.engines.judge import TestRun, defang

__all__ = ["ALL_PASSED_MARKER", "listing", "localized_context", "test_report"]

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
