"""Sandbox validation of reference programs and bug candidates.

A *reference* is valid when it parses and passes every visible and hidden test. A *bug
candidate* (a mutant, an imported buggy program) is valid when:

1. it parses, and carries no hint words (``BUG``, ``FIXME``, ``TODO``, ``XXX``) in its text;
2. it differs from the reference after normalisation (formatting and comments ignored);
3. it terminates within the limits: no test times out, and the job is not killed (mutants
   only; imported benchmarks such as QuixBugs keep their infinite loops, ``allow_hang=True``);
4. it fails at least one visible test (so the agent can see the bug), and
5. it is not equivalent to the reference on the hidden tests: at least one hidden test fails
   (``require_hidden_failure``; importers relax this to "fails some test").

Every check after (2) is one sandbox job over all tests. Results are plain data so the
difficulty rating can reuse them without re-running anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.tasks._model import TestSpec
from tracefix_rl.tasks._mutate import normalized

__all__ = ["HINT_PATTERN", "VALIDATION_LIMITS", "Verdict", "check_reference", "check_task", "has_hint",
           "validate_candidate"]

#: Words that would give the bug away if they appeared in a program shown to the agent.
HINT_PATTERN = re.compile(r"(?i)\b(bug|buggy|fixme|todo|xxx)\b")


#: Limits for validating candidates: small, so hanging mutants die fast (a reference's whole
#: test run takes a few milliseconds; the build skips references slower than 200 ms).
VALIDATION_LIMITS: dict[str, Any] = {"wall_s": 0.6, "cpu_s": 1, "per_test_s": 0.2, "memory_mb": 512}


def _limits() -> Any:
    from tracefix_rl.sandbox import Limits

    return Limits(**VALIDATION_LIMITS)


def has_hint(source: str) -> bool:
    """True if ``source`` contains a hint word (checked on the program text shown to agents)."""
    return bool(HINT_PATTERN.search(source))


@dataclass
class Verdict:
    """The outcome of validating one program against its tests."""

    ok: bool
    reason: str
    """``"ok"`` or a short machine-readable reason (``syntax``, ``hint``, ``same_as_reference``,
    ``hangs``, ``passes_visible``, ``passes_hidden``, ``fails_own_tests``, ``infra_error``)."""
    visible: list[str] = field(default_factory=list)
    """Per visible test status (``passed``, ``failed``, ``error``, ``timeout``, ``not_run``)."""
    hidden: list[str] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    """Traceback line (in the program) of each visible then hidden test, when one exists."""
    failing_line: int | None = None
    detail: str = ""
    duration_ms: float = 0.0
    """Wall time of the sandbox job."""

    @property
    def fail_fraction(self) -> float:
        """Fraction of all tests that did not pass."""
        statuses = self.visible + self.hidden
        return sum(s != "passed" for s in statuses) / len(statuses) if statuses else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (kept in build reports)."""
        return {"ok": self.ok, "reason": self.reason, "visible": self.visible, "hidden": self.hidden,
                "failing_line": self.failing_line, "detail": self.detail}


def _run(source: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], limits: Any) -> Any:
    from tracefix_rl.env._testing import run_tests

    run = run_tests(source, list(tests) + list(hidden), limits=limits)
    if run.infra_error:  # one retry: a pool slot can die under load
        run = run_tests(source, list(tests) + list(hidden), limits=limits)
    return run


def _statuses(run: Any, n_visible: int) -> tuple[list[str], list[str], list[int | None]]:
    statuses = [r.status for r in run.results]
    return statuses[:n_visible], statuses[n_visible:], [r.line for r in run.results]


def check_reference(source: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], *,
                    limits: Any = None) -> Verdict:
    """Validate a reference program: it must parse and pass every test.

    Uses generous limits (the defaults of :class:`~tracefix_rl.sandbox.Limits`) so a correct
    but slowish reference is not rejected on a loaded machine.
    """
    if normalized(source) is None:
        return Verdict(False, "syntax", detail="the reference does not parse")
    from tracefix_rl.sandbox import Limits

    run = _run(source, tests, hidden, limits or Limits())
    visible, hid, lines = _statuses(run, len(tests))
    if run.infra_error:
        return Verdict(False, "infra_error", visible, hid, lines, detail=run.detail)
    if run.passed != run.total:
        bad = [r for r in run.results if not r.passed]
        detail = "; ".join(f"{r.test_name}: {r.error_message}" for r in bad[:3])
        return Verdict(False, "fails_own_tests", visible, hid, lines, run.failing_line, detail, run.duration_ms)
    return Verdict(True, "ok", visible, hid, lines, duration_ms=run.duration_ms)


def validate_candidate(reference: str, candidate: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], *,
                       limits: Any = None, allow_hang: bool = False,
                       require_hidden_failure: bool = True, require_visible_failure: bool = True) -> Verdict:
    """Validate a bug candidate against the reference's tests (see the module docstring)."""
    norm = normalized(candidate)
    if norm is None:
        return Verdict(False, "syntax", detail="the candidate does not parse")
    if has_hint(candidate):
        return Verdict(False, "hint", detail="the candidate contains a hint word")
    if norm == normalized(reference):
        return Verdict(False, "same_as_reference")
    run = _run(candidate, tests, hidden, limits or _limits())
    visible, hid, lines = _statuses(run, len(tests))
    base = {"visible": visible, "hidden": hid, "lines": lines, "failing_line": run.failing_line,
            "duration_ms": run.duration_ms}
    if run.infra_error:
        return Verdict(False, "infra_error", detail=run.detail, **base)
    from tracefix_rl.sandbox import Outcome

    hung = "timeout" in visible + hid or run.outcome in (Outcome.TIMEOUT, Outcome.CPU_LIMIT, Outcome.MEMORY)
    if hung and not allow_hang:
        return Verdict(False, "hangs", **base)
    if require_visible_failure and all(s == "passed" for s in visible):
        if all(s == "passed" for s in hid):
            return Verdict(False, "passes_all", **base)
        return Verdict(False, "passes_visible", **base)
    if require_hidden_failure and all(s == "passed" for s in hid):
        return Verdict(False, "passes_hidden", **base)
    if all(s == "passed" for s in visible + hid):
        return Verdict(False, "passes_all", **base)
    return Verdict(True, "ok", **base)


def check_task(task: Any) -> list[str]:
    """Re-check a finished task; returns the problems found (empty when it is valid).

    The reference must pass every test; the buggy program must carry no hint word, differ
    from the reference and fail a test. Generated tasks (``provenance.generator ==
    "mutation"``) must also terminate and fail a visible and a hidden test, as at build time;
    imported ones may hang and may fail only hidden tests, as at import time.
    """
    problems = []
    ref = check_reference(task.reference, task.tests, task.hidden_tests)
    if not ref.ok:
        problems.append(f"reference: {ref.reason} {ref.detail}".strip())
    generated = task.provenance.get("generator") == "mutation"
    bug = validate_candidate(task.reference, task.buggy, task.tests, task.hidden_tests, allow_hang=not generated,
                             require_hidden_failure=generated, require_visible_failure=generated)
    if not bug.ok:
        problems.append(f"buggy: {bug.reason}")
    if has_hint(task.description):
        problems.append("the description contains a hint word")
    return problems
