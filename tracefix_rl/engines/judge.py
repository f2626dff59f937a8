"""Run tests in the sandbox and judge them here, where the expected values live.

What comes back from the sandbox is untrusted: the records are checked against the test
driver's schema and order (:func:`tracefix_rl.engines.sandbox.protocol.read_test_stream`), and a
violation fails the affected tests ("the program broke the harness protocol"), never raises
and never counts as an infrastructure error. Only the executor's own outcome can say that the
infrastructure failed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tracefix_rl.core.models import TestResult
from tracefix_rl.core.task import TestSpec, fixed_expectation
from tracefix_rl.core.values import values_match
from tracefix_rl.engines.sandbox import Execution, Limits, Outcome, Sandbox, get_sandbox
from tracefix_rl.engines.sandbox.protocol import ModuleRecord, TestRecord, read_test_stream

if TYPE_CHECKING:
    from tracefix_rl.core.scoring import TestTally

__all__ = ["TestRun", "defang", "describe_tally", "judge", "run_tests", "tally_runs"]

PROGRAM_FILENAME = "program.py"

_Unfinished = Literal["error", "timeout", "not_run"]  # statuses of a test without a trusted result

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


def _exception_text(rec: TestRecord | ModuleRecord) -> str:
    msg = rec.exc_message or ""
    return f"{rec.exc_type}: {msg}" if msg else str(rec.exc_type)


def _judge(spec: TestSpec, rec: TestRecord | None, ended: str | None, status: _Unfinished = "not_run") -> TestResult:
    base: dict[str, Any] = {"test_name": spec.name, "call": spec.describe_call(),
                            "expected": spec.describe_expectation()}
    if rec is None:
        return TestResult(passed=False, status=status, error_message=ended or "not run", **base)
    base["stdout"] = defang(rec.stdout)
    base["duration_ms"] = rec.duration_ms
    line = rec.traceback[-1][0] if rec.traceback else None
    if rec.status == "timeout":
        return TestResult(passed=False, status="timeout", line=line,
                          error_message="timed out (per-test limit)", **base)
    if rec.status == "raised":
        exc = defang(_exception_text(rec))
        if spec.raises and rec.exc_type == spec.raises:
            return TestResult(passed=True, status="passed", actual=f"raised {spec.raises}", **base)
        return TestResult(passed=False, status="failed" if spec.raises else "error", exception=exc,
                          actual=f"raised {exc}", line=line, error_message=exc, **base)
    shown = defang(rec.display or "")
    if spec.raises:
        return TestResult(passed=False, status="failed", actual=shown, **base,
                          error_message=f"expected {spec.raises} to be raised, got {shown}")
    if values_match(rec.value or "", spec.expected_value(), approx=spec.approx):
        return TestResult(passed=True, status="passed", actual=shown, **base)
    return TestResult(passed=False, status="failed", actual=shown, **base,
                      error_message=f"expected {spec.expected}, got {shown}")


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
    owner: str | None = None,
    stop_at_timeout: bool = False,
) -> TestRun:
    """Run ``tests`` against ``source`` in the sandbox and judge every test.

    With ``stop_at_timeout`` the job ends at the first test that times out (the tests after it
    are ``not_run``): for callers to whom one hang decides the outcome (task validation).

    ``entry_point`` is the one program name test code may take over a builtin's (see
    :mod:`tracefix_rl.engines.sandbox._driver_tests`).

    The child sees only the tests' setup and call text; expected values stay in this process.
    ``owner`` (the calling environment's id) lets the sandbox share its workers fairly.
    Never raises for anything the program does.
    """
    sandbox = sandbox or get_sandbox()
    limits = limits or Limits()
    payload = {"source": source, "filename": PROGRAM_FILENAME, "seed": seed, "entry_point": entry_point,
               "per_test_s": limits.per_test_s, "tests": [t.to_payload() for t in tests]}
    if stop_at_timeout:
        payload["stop_at_timeout"] = True
    ex = sandbox.execute("tests", payload, limits, owner=owner)
    if ex.outcome is Outcome.INFRA_ERROR:  # the executor's verdict, never the program's
        results = [_judge(spec, None, "not run: sandbox infrastructure error") for spec in tests]
        return TestRun(results=results, outcome=ex.outcome, duration_ms=ex.duration_ms,
                       isolation=ex.isolation, detail=ex.detail)
    stream = read_test_stream(ex.records, [t.name for t in tests], ex.protocol_error)
    syntax, module = stream.syntax, stream.module
    results = []
    for i, spec in enumerate(tests):
        found = stream.tests.get(i)
        ended = None
        status: _Unfinished = "not_run"
        if found is None:
            if stream.broken_at is not None and i >= stream.broken_at:
                # Graded as this test's failure: only the program can write on the channel.
                if i == stream.broken_at:
                    ended, status = stream.violation, "error"
                else:
                    ended = f"not run: {stream.violation}"
            elif i in stream.oversize:
                ended = "the result was too large to report"
            elif syntax is not None:
                ended = "not run: the program has a syntax error"
            elif module is not None:
                ended = f"not run: loading the program raised {_exception_text(module)}"
            elif i in stream.started:
                ended = _ending(ex)
                if ex.outcome in (Outcome.TIMEOUT, Outcome.CPU_LIMIT):
                    status = "timeout"
            elif ex.outcome is not Outcome.OK:
                ended = f"not run: {_ending(ex)} in an earlier test"
        results.append(_judge(spec, found, defang(ended) if ended else None, status))
    failing_line = None
    if syntax is not None:
        failing_line = syntax.line
    elif module is not None and module.traceback:
        failing_line = module.traceback[-1][0]
    else:
        failing_line = next((r.line for r in results if not r.passed and r.line), None)
    return TestRun(
        results=results, outcome=ex.outcome,
        syntax_error=syntax.model_dump(exclude={"kind"}) if syntax else None,
        module_error=module.model_dump(exclude={"kind"}) if module else None,
        module_stdout=defang(stream.module_stdout), stdout=defang(ex.stdout), stderr=defang(ex.stderr),
        duration_ms=ex.duration_ms, isolation=ex.isolation, failing_line=failing_line,
        detail=ex.detail or (stream.violation or ""),
    )


def judge(source: str, tests: Sequence[TestSpec], *, sandbox: Sandbox | None = None, limits: Limits | None = None,
          seed: int = 0, entry_point: str | None = None, owner: str | None = None,
          stop_at_timeout: bool = False) -> TestRun:
    """:func:`run_tests`, retried once when the sandbox itself failed: the one retry policy.

    A fault of the infrastructure must not cost the agent; a second fault in a row is reported
    (``infra_error``) and never scored. The environment, the graders and the task validators
    all judge programs through this function.
    """
    run = run_tests(source, tests, sandbox=sandbox, limits=limits, seed=seed, entry_point=entry_point, owner=owner,
                    stop_at_timeout=stop_at_timeout)
    if run.infra_error:
        run = run_tests(source, tests, sandbox=sandbox, limits=limits, seed=seed, entry_point=entry_point,
                        owner=owner, stop_at_timeout=stop_at_timeout)
    return run


def tally_runs(task: Any, visible: TestRun, hidden: TestRun) -> TestTally:
    """Tally a graded program by the task's stored test roles (visible run, then hidden run).

    Tests whose expected value is fixed by their shape (``bool(...) -> True``) count for
    resolution but earn no partial credit (see :mod:`tracefix_rl.core.scoring`).
    """
    from tracefix_rl.core.scoring import TestTally

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
