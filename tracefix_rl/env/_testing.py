"""Run tests in the sandbox and judge them here, where the expected values live."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracefix_rl._values import values_match
from tracefix_rl.models import TestResult
from tracefix_rl.sandbox import Execution, Limits, Outcome, Sandbox, get_sandbox
from tracefix_rl.tasks import TestSpec
from tracefix_rl.tasks._model import fixed_expectation

if TYPE_CHECKING:
    from tracefix_rl.scoring import TestTally

__all__ = ["TestRun", "defang", "describe_tally", "judge", "run_tests", "tally_runs"]

PROGRAM_FILENAME = "program.py"

_MARKERS = [
    (re.compile(r"(?i)(tests?\s*passed)(\s*:)"), r"\1 (printed by the program)\2"),
    (re.compile(r"(?i)(success)(\s*:\s*all\s+tests\s+passed)"), r"\1 (printed by the program)\2"),
]


def defang(text: str) -> str:
    """Neutralise the result markers in program-controlled text.

    ``Tests Passed: k/N`` and ``SUCCESS: ALL TESTS PASSED`` are written only by the
    environment; the same words printed (or returned, or raised) by the program are rewritten
    so that no marker-matching client can be fooled.
    """
    # Both markers contain "passed"; casefold() maps every character the (?i) patterns match
    # to it (e.g. "\u017f", the long s) onto its ASCII letter, so text without it is left as is.
    if "passed" not in text.casefold():
        return text
    for pattern, replacement in _MARKERS:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class TestRun:
    """Judged results of one sandbox job over a list of tests."""

    __test__ = False

    results: list[TestResult]
    outcome: Outcome
    syntax_error: dict[str, Any] | None = None
    module_error: dict[str, Any] | None = None
    module_stdout: str = ""
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    isolation: str = ""
    failing_line: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        """Number of tests that passed."""
        return sum(r.passed for r in self.results)

    @property
    def total(self) -> int:
        """Number of tests judged."""
        return len(self.results)

    @property
    def infra_error(self) -> bool:
        """True when the sandbox itself failed: the run must not be scored."""
        return self.outcome is Outcome.INFRA_ERROR


def _exception_text(rec: dict[str, Any]) -> str:
    msg = rec.get("exc_message") or ""
    return f"{rec.get('exc_type')}: {msg}" if msg else str(rec.get("exc_type"))


def _judge(spec: TestSpec, rec: dict[str, Any] | None, ended: str | None, timed_out: bool) -> TestResult:
    base: dict[str, Any] = {"test_name": spec.name, "call": spec.describe_call(),
                            "expected": spec.describe_expectation()}
    if rec is None:
        return TestResult(passed=False, status="timeout" if timed_out else "not_run",
                          error_message=ended or "not run", **base)
    base["stdout"] = defang(rec.get("stdout") or "")
    base["duration_ms"] = float(rec.get("duration_ms") or 0.0)
    status = rec.get("status")
    frames = rec.get("traceback") or []
    line = frames[-1][0] if frames else None
    if status == "timeout":
        return TestResult(passed=False, status="timeout", line=line,
                          error_message="timed out (per-test limit)", **base)
    if status == "raised":
        exc = defang(_exception_text(rec))
        if spec.raises and rec.get("exc_type") == spec.raises:
            return TestResult(passed=True, status="passed", actual=f"raised {spec.raises}", **base)
        return TestResult(passed=False, status="failed" if spec.raises else "error", exception=exc,
                          actual=f"raised {exc}", line=line, error_message=exc, **base)
    if status == "returned":
        shown = defang(str(rec.get("display", "")))
        if spec.raises:
            return TestResult(passed=False, status="failed", actual=shown, **base,
                              error_message=f"expected {spec.raises} to be raised, got {shown}")
        ok = values_match(str(rec.get("value")), spec.expected_value(), approx=spec.approx)
        if ok:
            return TestResult(passed=True, status="passed", actual=shown, **base)
        return TestResult(passed=False, status="failed", actual=shown, **base,
                          error_message=f"expected {spec.expected}, got {shown}")
    return TestResult(passed=False, status="not_run", error_message="malformed result record", **base)


def _ending(ex: Execution) -> str:
    return {
        Outcome.TIMEOUT: "timed out (job wall-clock limit)",
        Outcome.CPU_LIMIT: "timed out (CPU limit)",
        Outcome.MEMORY: "memory limit exceeded",
        Outcome.OUTPUT_LIMIT: "output limit exceeded",
        Outcome.EXITED: "the program ended the test process early",
        Outcome.CRASHED: f"the test process crashed (signal {ex.signal})",
        Outcome.INFRA_ERROR: "sandbox infrastructure error",
    }.get(ex.outcome, "not run")


def run_tests(
    source: str,
    tests: Sequence[TestSpec],
    *,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    seed: int = 0,
    entry_point: str | None = None,
) -> TestRun:
    """Run ``tests`` against ``source`` in the sandbox and judge every test.

    ``entry_point`` is the one program name test code may take over a builtin's (see
    :mod:`tracefix_rl.sandbox._driver_tests`).

    The child sees only the tests' setup and call text; expected values stay in this process.
    """
    sandbox = sandbox or get_sandbox()
    limits = limits or Limits()
    payload = {"source": source, "filename": PROGRAM_FILENAME, "seed": seed, "entry_point": entry_point,
               "per_test_s": limits.per_test_s, "tests": [t.to_payload() for t in tests]}
    ex = sandbox.execute("tests", payload, limits)
    by_index: dict[int, dict[str, Any]] = {}
    started: set[int] = set()
    syntax = module = None
    module_stdout = ""
    for rec in ex.records:
        kind = rec.get("kind")
        if kind == "compile" and not rec.get("ok"):
            syntax = rec
        elif kind == "module":
            module_stdout = str(rec.get("stdout") or "")
            if not rec.get("ok"):
                module = rec
        elif kind == "start" and isinstance(rec.get("index"), int):
            started.add(rec["index"])
        elif kind == "test" and isinstance(rec.get("index"), int) and 0 <= rec["index"] < len(tests):
            # A program can forge records (it shares the process), but only with values it
            # computed itself: expected values never enter the sandbox. First record wins.
            by_index.setdefault(rec["index"], rec)
    results = []
    for i, spec in enumerate(tests):
        found = by_index.get(i)
        ended = None
        timed_out = False
        if found is None:
            if syntax is not None:
                ended = "not run: the program has a syntax error"
            elif module is not None:
                ended = f"not run: loading the program raised {_exception_text(module)}"
            elif i in started:
                ended = _ending(ex)
                timed_out = ex.outcome in (Outcome.TIMEOUT, Outcome.CPU_LIMIT)
            elif ex.outcome is not Outcome.OK:
                ended = f"not run: {_ending(ex)} in an earlier test"
        results.append(_judge(spec, found, defang(ended) if ended else None, timed_out))
    failing_line = None
    if syntax is not None:
        failing_line = syntax.get("line")
    elif module is not None and module.get("traceback"):
        failing_line = module["traceback"][-1][0]
    else:
        failing_line = next((r.line for r in results if not r.passed and r.line), None)
    return TestRun(
        results=results, outcome=ex.outcome, syntax_error=syntax, module_error=module,
        module_stdout=defang(module_stdout), stdout=defang(ex.stdout), stderr=defang(ex.stderr),
        duration_ms=ex.duration_ms, isolation=ex.isolation, failing_line=failing_line,
        detail=ex.detail,
    )


def judge(source: str, tests: Sequence[TestSpec], *, sandbox: Sandbox | None = None, limits: Limits | None = None,
          seed: int = 0, entry_point: str | None = None) -> TestRun:
    """:func:`run_tests`, retried once when the sandbox itself failed: the one retry policy.

    A fault of the infrastructure must not cost the agent; a second fault in a row is reported
    (``infra_error``) and never scored. The environment, the graders and the task validators
    all judge programs through this function.
    """
    run = run_tests(source, tests, sandbox=sandbox, limits=limits, seed=seed, entry_point=entry_point)
    if run.infra_error:
        run = run_tests(source, tests, sandbox=sandbox, limits=limits, seed=seed, entry_point=entry_point)
    return run


def tally_runs(task: Any, visible: TestRun, hidden: TestRun) -> TestTally:
    """Tally a graded program by the task's stored test roles (visible run, then hidden run).

    Tests whose expected value is fixed by their shape (``bool(...) -> True``) count for
    resolution but earn no partial credit (see :mod:`tracefix_rl.scoring`).
    """
    from tracefix_rl.scoring import TestTally

    outcomes = []
    for specs, run, is_hidden in ((task.tests, visible, False), (task.hidden_tests, hidden, True)):
        for spec, result in zip(specs, run.results, strict=True):
            outcomes.append((spec.role, is_hidden, result.passed, not fixed_expectation(spec, task.entry_point)))
    return TestTally.from_outcomes(outcomes)


def describe_tally(tally: TestTally, score: float) -> str:
    """The closing lines of a graded episode: resolution, tests by role, the score."""
    (fv, fvt), (fh, fht), (p, pt) = tally.f2p_visible, tally.f2p_hidden, tally.p2p
    verdict = "RESOLVED: every test passes." if tally.resolved else "NOT RESOLVED: some tests still fail."
    return (f"{verdict}\nFAIL_TO_PASS tests passing: {fv + fh}/{fvt + fht} (visible {fv}/{fvt}, hidden {fh}/{fht}); "
            f"PASS_TO_PASS tests passing: {p}/{pt}\nFinal score: {score:.2f}")
