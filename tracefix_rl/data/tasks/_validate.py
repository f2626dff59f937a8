"""Sandbox validation of reference programs and bug candidates.

A *reference* is valid when it parses and passes every visible and hidden test. A *bug
candidate* (a mutant, an imported buggy program) is valid when:

1. it parses, and carries no hint words (``BUG``, ``FIXME``, ``TODO``, ``XXX``) in its text;
2. it differs from the reference after normalisation (formatting and comments ignored);
3. it terminates within the limits: no test times out, and the job is not killed (mutants
   only; imported benchmarks such as QuixBugs keep their infinite loops, ``allow_hang=True``);
4. it fails at least one visible test (so the agent can see the bug; importers relax this,
   ``require_visible_failure=False``), and
5. its hidden tests catch a hard-coder: at least one hidden test fails on an *input* that no
   visible test uses (:func:`~tracefix_rl.core.task.input_key`) and compares a value the program must compute (not a
   :func:`~tracefix_rl.core.task.fixed_expectation` such as ``bool(...) -> True``), so a program that special-cases
   the visible tests' inputs, or reports ``True`` for every test, still fails a hidden test
   (``hidden_misses_hardcoding`` otherwise).

Every check after (2) is one sandbox job over all tests. Results are plain data so the
difficulty rating and the test roles (:meth:`Verdict.failing_tests`: FAIL_TO_PASS are the
tests the candidate fails) reuse them without re-running anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.core.task import Task, TestSpec, fixed_expectation, input_key
from tracefix_rl.engines.mutation import normalized

__all__ = ["HINT_PATTERN", "VALIDATION_LIMITS", "Verdict", "scaled_validation_limits", "check_reference", "check_task", "has_hint",
           "hidden_catches_hardcoding", "probe_catches_hardcoding", "validate_candidate"]

#: Words that would give the bug away if they appeared in a program shown to the agent.
HINT_PATTERN = re.compile(r"(?i)\b(bug|buggy|fixme|todo|xxx)\b")


#: Limits for validating candidates: small, so hanging mutants die fast (a reference's whole
#: test run takes a few milliseconds; the build skips references slower than 200 ms).
VALIDATION_LIMITS: dict[str, Any] = {"wall_s": 0.6, "cpu_s": 1, "per_test_s": 0.2, "memory_mb": 512}


def _limits() -> Any:
    from tracefix_rl.engines.sandbox import Limits

    return Limits(**VALIDATION_LIMITS)


#: Scaled validation limits (:func:`scaled_validation_limits`): a candidate's tests each get this
#: many times the reference's slowest test, never less than the floor and never more than
#: :data:`VALIDATION_LIMITS` (whose whole-job deadline is kept: job start-up is most of a job).
SCALE_PER_TEST, FLOOR_PER_TEST_S = 50.0, 0.05


def scaled_validation_limits(slowest_test_ms: float | None) -> Any:
    """Validation limits scaled to the reference's slowest test (``slowest_test_ms``, measured in
    the sandbox child): a hanging candidate is given up on sooner when its reference is fast.

    The measurement is rounded up to a power of two milliseconds, so the jitter of a timing does
    not change the limits, and a slow (loaded) measurement only loosens them: the per-test limit
    is never below 50 ms, against references whose tests take well under a millisecond, and
    never above :data:`VALIDATION_LIMITS`. ``None`` gives :data:`VALIDATION_LIMITS`.
    """
    from tracefix_rl.engines.sandbox import Limits

    if slowest_test_ms is None or slowest_test_ms < 0:
        return _limits()
    rounded = 2.0 ** math.ceil(math.log2(max(1.0, slowest_test_ms))) / 1000
    per_test = min(VALIDATION_LIMITS["per_test_s"], max(FLOOR_PER_TEST_S, SCALE_PER_TEST * rounded))
    return Limits(**{**VALIDATION_LIMITS, "per_test_s": per_test})


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
    slowest_test_ms: float | None = None
    """Wall time of the sandbox job."""

    def failing_tests(self, tests: Sequence[TestSpec], hidden: Sequence[TestSpec]) -> set[str]:
        """Names of the tests this run did not pass: the FAIL_TO_PASS tests of a valid candidate."""
        statuses = self.visible + self.hidden
        return {t.name for t, s in zip(list(tests) + list(hidden), statuses, strict=True) if s != "passed"}

    @property
    def fail_fraction(self) -> float:
        """Fraction of all tests that did not pass."""
        statuses = self.visible + self.hidden
        return sum(s != "passed" for s in statuses) / len(statuses) if statuses else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (kept in build reports)."""
        return {"ok": self.ok, "reason": self.reason, "visible": self.visible, "hidden": self.hidden,
                "failing_line": self.failing_line, "detail": self.detail}


def hidden_catches_hardcoding(tests: Sequence[TestSpec], hidden: Sequence[TestSpec], failing: set[str],
                              entry_point: str | None = None) -> bool:
    """Whether some hidden test in ``failing`` (a FAIL_TO_PASS test) uses an input no visible test
    uses and compares a value the program must compute (not a :func:`~tracefix_rl.core.task.fixed_expectation`)."""
    seen = {input_key(t, entry_point) for t in tests}
    return any(t.name in failing and input_key(t, entry_point) not in seen and not fixed_expectation(t, entry_point)
               for t in hidden)


def _run(source: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], limits: Any, *,
         entry_point: str | None = None, settle: bool = False, stop_at_timeout: bool = False) -> Any:
    """One job over every test. With ``settle`` (candidates allowed to hang), tests a hang left
    unrun get jobs of their own, so every test has its own status: a test's role must not
    depend on the test that happened to run before it. With ``stop_at_timeout`` (a hang rejects
    the candidate whatever the other tests do), the job ends at the first test that times out."""
    from tracefix_rl.engines.judge import judge

    specs = list(tests) + list(hidden)
    run = judge(source, specs, limits=limits, entry_point=entry_point, stop_at_timeout=stop_at_timeout)
    for _ in range(len(specs) if settle else 0):  # each round settles at least the first unrun test
        if run.infra_error:
            break
        unrun = [i for i, r in enumerate(run.results) if r.status == "not_run"]
        if not unrun or run.syntax_error is not None or run.module_error is not None:
            break
        rest = judge(source, [specs[i] for i in unrun], limits=limits, entry_point=entry_point)
        if rest.infra_error or all(r.status == "not_run" for r in rest.results):
            break
        for i, result in zip(unrun, rest.results, strict=True):
            run.results[i] = result
        run.outcome = rest.outcome if rest.outcome.value != "ok" else run.outcome
    return run


def _statuses(run: Any, n_visible: int) -> tuple[list[str], list[str], list[int | None]]:
    statuses = [r.status for r in run.results]
    return statuses[:n_visible], statuses[n_visible:], [r.line for r in run.results]


def check_reference(source: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], *,
                    limits: Any = None, entry_point: str | None = None) -> Verdict:
    """Validate a reference program: it must parse and pass every test.

    Uses generous limits (the defaults of :class:`~tracefix_rl.engines.sandbox.Limits`) so a correct
    but slowish reference is not rejected on a loaded machine.
    """
    if normalized(source) is None:
        return Verdict(False, "syntax", detail="the reference does not parse")
    from tracefix_rl.engines.sandbox import Limits

    run = _run(source, tests, hidden, limits or Limits(), entry_point=entry_point)
    visible, hid, lines = _statuses(run, len(tests))
    if run.infra_error:
        return Verdict(False, "infra_error", visible, hid, lines, detail=run.detail)
    if run.passed != run.total:
        bad = [r for r in run.results if not r.passed]
        detail = "; ".join(f"{r.test_name}: {r.error_message}" for r in bad[:3])
        return Verdict(False, "fails_own_tests", visible, hid, lines, run.failing_line, detail, run.duration_ms)
    return Verdict(True, "ok", visible, hid, lines, duration_ms=run.duration_ms,
                   slowest_test_ms=max((r.duration_ms for r in run.results), default=0.0))


def validate_candidate(reference: str, candidate: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], *,
                       limits: Any = None, allow_hang: bool = False, entry_point: str | None = None,
                       require_visible_failure: bool = True) -> Verdict:
    """Validate a bug candidate against the reference's tests (see the module docstring).

    ``entry_point`` lets :func:`~tracefix_rl.core.task.input_key` compare inputs by value; without it, by source.
    """
    norm = normalized(candidate)
    if norm is None:
        return Verdict(False, "syntax", detail="the candidate does not parse")
    if has_hint(candidate):
        return Verdict(False, "hint", detail="the candidate contains a hint word")
    if norm == normalized(reference):
        return Verdict(False, "same_as_reference")
    run = _run(candidate, tests, hidden, limits or _limits(), entry_point=entry_point, settle=allow_hang,
               stop_at_timeout=not allow_hang)
    visible, hid, lines = _statuses(run, len(tests))
    base = {"visible": visible, "hidden": hid, "lines": lines, "failing_line": run.failing_line,
            "duration_ms": run.duration_ms}
    if run.infra_error:
        return Verdict(False, "infra_error", detail=run.detail, **base)
    from tracefix_rl.engines.sandbox import Outcome

    hung = "timeout" in visible + hid or run.outcome in (Outcome.TIMEOUT, Outcome.CPU_LIMIT, Outcome.MEMORY)
    if hung and not allow_hang:
        return Verdict(False, "hangs", **base)
    if require_visible_failure and all(s == "passed" for s in visible):
        if all(s == "passed" for s in hid):
            return Verdict(False, "passes_all", **base)
        return Verdict(False, "passes_visible", **base)
    if all(s == "passed" for s in visible + hid):
        return Verdict(False, "passes_all", **base)
    if all(s == "passed" for s in hid):
        return Verdict(False, "passes_hidden", **base)
    failing = {t.name for t, st in zip(list(tests) + list(hidden), visible + hid, strict=True) if st != "passed"}
    if not hidden_catches_hardcoding(tests, hidden, failing, entry_point) or not probe_catches_hardcoding(
            reference, candidate, tests, hidden, failing, entry_point=entry_point, limits=limits or _limits()):
        return Verdict(False, "hidden_misses_hardcoding", **base)
    return Verdict(True, "ok", **base)


def probe_catches_hardcoding(reference: str, candidate: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec],
                             failing: set[str], *, entry_point: str | None, limits: Any = None) -> bool:
    """Run the hard-coder probe (:func:`~tracefix_rl.engines.probes.hardcode_program`) on the hidden
    tests: true when it still fails a hidden FAIL_TO_PASS test that compares a computed value.

    Inputs that differ from the visible ones are not always enough: when the bug is in a base
    case that the visible inputs exercise (``fib(1)``), special-casing them repairs every
    larger input through the recursion, and no hidden test can tell that from the fix. Tasks
    without a function entry point (no probe) pass this check on the static rule alone.
    """
    from tracefix_rl.engines.judge import judge
    from tracefix_rl.engines.probes import hardcode_program

    if not entry_point:
        return True
    probe = hardcode_program(Task(name="candidate", difficulty="medium", entry_point=entry_point, description="",
                                  reference=reference, buggy=candidate, tests=tuple(tests),
                                  hidden_tests=tuple(hidden)))
    if probe is None:
        return True
    run = judge(probe, hidden, limits=limits or _limits(), entry_point=entry_point)
    if run.infra_error:
        return False
    return any(not r.passed and t.name in failing and not fixed_expectation(t, entry_point)
               for t, r in zip(hidden, run.results, strict=True))


def check_task(task: Task) -> list[str]:
    """Re-check a finished task; returns the problems found (empty when it is valid).

    The reference must pass every test; the buggy program must carry no hint word, differ
    from the reference, fail a hidden test on an input no visible test uses, and its stored
    test roles must be the ones the run gives. Generated tasks (``provenance.generator ==
    "mutation"``) must also terminate and fail a visible test, as at build time; imported
    ones may hang and may fail only hidden tests, as at import time. The hand-written bank
    is held to the generated tasks' rules.
    """
    problems = []
    ref = check_reference(task.reference, task.tests, task.hidden_tests, entry_point=task.entry_point)
    if not ref.ok:
        problems.append(f"reference: {ref.reason} {ref.detail}".strip())
    strict = task.provenance.get("generator") != "import"
    bug = validate_candidate(task.reference, task.buggy, task.tests, task.hidden_tests, allow_hang=not strict,
                             require_visible_failure=strict, entry_point=task.entry_point)
    if not bug.ok:
        problems.append(f"buggy: {bug.reason}")
    elif task.with_roles(bug.failing_tests(task.tests, task.hidden_tests)) != task:
        stored = "missing" if not task.has_roles else "stale"
        problems.append(f"test roles: {stored} (FAIL_TO_PASS / PASS_TO_PASS differ from the validation run)")
    if has_hint(task.description):
        problems.append("the description contains a hint word")
    return problems
