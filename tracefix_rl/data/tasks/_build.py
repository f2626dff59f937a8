"""Build validated bug tasks from reference programs with the mutation engine.

:func:`build_tasks` validates every reference (it must pass all of its tests), then draws
mutants of each reference in a seeded order (singles first, then 2- and 3-bug combinations),
drops cheap duplicates in-process (same normalised code as the reference or an earlier
mutant), validates the rest in the sandbox (:mod:`tracefix_rl.data.tasks._validate`), rates each
valid one (:mod:`tracefix_rl.data.tasks._difficulty`) and keeps up to a per-program quota, so
every program contributes about ``target / programs`` tasks. Programs that run out of valid
mutants leave their share to the others in later rounds.

Everything is a function of the programs and ``seed``: the same inputs give the same tasks in
the same order (up to sandbox timing, which can only turn a borderline-slow mutant into a
rejected one).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.core.task import Task, fixed_expectation, input_key
from tracefix_rl.data.tasks._corpus import ReferenceProgram
from tracefix_rl.data.tasks._difficulty import rate_mutant
from tracefix_rl.data.tasks._validate import (
    Verdict,
    check_reference,
    scaled_validation_limits,
    validate_candidate,
)
from tracefix_rl.engines.mutation import Mutant, sample_mutants

__all__ = ["BuildReport", "build_tasks", "can_catch_hardcoding", "describe_mutations", "program_seed", "task_from_mutant"]

log = logging.getLogger("tracefix_rl.data.tasks.build")

#: A reference whose full test run takes longer than this (twice in a row) is skipped: its
#: mutants would be at risk of hitting the tight validation limits.
SLOW_REFERENCE_MS = 200.0


def program_seed(key: str, seed: int) -> int:
    """A 64-bit seed derived from a program key and the build seed (stable across runs)."""
    return int(hashlib.sha256(f"{key}:{seed}".encode()).hexdigest()[:16], 16)


def can_catch_hardcoding(program: ReferenceProgram) -> bool:
    """Whether any mutant of ``program`` could pass the validator's hard-coding rule: some hidden
    test uses an input no visible test uses and compares a value the program computes.

    Programs without one would spend the whole build validating mutants that are all rejected.
    """
    seen = {input_key(t, program.entry_point) for t in program.tests}
    return any(input_key(t, program.entry_point) not in seen and not fixed_expectation(t, program.entry_point)
               for t in program.hidden_tests)


def describe_mutations(mutant: Mutant) -> str:
    """A one-line, human-readable summary of the planted bugs (kept out of observations)."""
    return "; ".join(f"line {m.line}: {m.note} ({m.operator})" for m in mutant.mutations)


def task_from_mutant(program: ReferenceProgram, mutant: Mutant, verdict: Verdict, *, name: str,
                     provenance: dict[str, Any] | None = None) -> Task:
    """The task for a validated mutant: tier from the rating, provenance with every detail, and
    the test roles from the validation run (FAIL_TO_PASS: the tests the mutant fails)."""
    rating = rate_mutant(mutant, program.reference, verdict)
    prov = {"generator": "mutation", "program": program.name, "origin": program.origin,
            "category": program.category, "operators": list(mutant.operators),
            "mutations": [m.to_dict() for m in mutant.mutations], "rating": rating.to_dict(),
            "failing_visible": [i for i, s in enumerate(verdict.visible) if s != "passed"]}
    prov.update(provenance or {})
    task = program.task(name=name, buggy=mutant.source, difficulty=rating.tier,
                        bug_type="+".join(mutant.operators), bug_description=describe_mutations(mutant),
                        provenance=prov)
    return task.with_roles(verdict.failing_tests(task.tests, task.hidden_tests))


@dataclass
class BuildReport:
    """What a build produced and what it threw away, and why."""

    tasks: list[Task] = field(default_factory=list)
    programs: int = 0
    skipped_programs: list[tuple[str, str]] = field(default_factory=list)
    candidates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    target: int = 0
    #: Sandbox time spent validating candidates, per verdict (``ok``, ``hangs``, ...), in seconds.
    validation_s: dict[str, float] = field(default_factory=dict)

    @property
    def by_tier(self) -> Counter[str]:
        """Task counts per difficulty tier."""
        return Counter(t.difficulty for t in self.tasks)

    @property
    def by_operator(self) -> Counter[str]:
        """How many tasks each operator appears in."""
        return Counter(op for t in self.tasks for op in t.provenance.get("operators", []))

    @property
    def by_mutations(self) -> Counter[int]:
        """Task counts by number of planted bugs."""
        return Counter(len(t.provenance.get("operators", [])) for t in self.tasks)

    @property
    def by_origin(self) -> Counter[str]:
        """Task counts by program origin (``corpus``, ``builtin``, ``humaneval``)."""
        return Counter(str(t.provenance.get("origin", "")).split(":")[0] for t in self.tasks)

    def summary(self) -> dict[str, Any]:
        """Plain-data summary (stored in the pack header's ``meta``)."""
        return {"tasks": len(self.tasks), "target": self.target, "programs": self.programs,
                "skipped_programs": [list(s) for s in self.skipped_programs], "candidates": self.candidates,
                "rejected": dict(sorted(self.rejected.items())), "elapsed_s": round(self.elapsed_s, 2),
                "by_tier": dict(sorted(self.by_tier.items())), "by_operator": dict(sorted(self.by_operator.items())),
                "by_mutations": {str(k): v for k, v in sorted(self.by_mutations.items())},
                "by_origin": dict(sorted(self.by_origin.items())),
                "validation_s": {k: round(v, 2) for k, v in sorted(self.validation_s.items())}}


class _ProgramStream:
    """The seeded mutant streams of one program and the tasks accepted from them so far."""

    def __init__(self, program: ReferenceProgram, seed: int, max_mutations: int, multi_fraction: float,
                 limits: Any = None) -> None:
        self.program = program
        self.limits = limits
        self.seed = seed
        self.multi_fraction = multi_fraction if max_mutations > 1 else 0.0
        key = program_seed(program.name, seed)
        self._singles: Iterator[Mutant] | None = sample_mutants(program.reference, key)
        self._multis: Iterator[Mutant] | None = (
            sample_mutants(program.reference, key + 1, min_mutations=2, max_mutations=max_mutations)
            if max_mutations > 1 else None)
        self.tasks: list[Task] = []
        self.singles = 0
        self.candidates = 0
        self.rejected: Counter[str] = Counter()
        self.validation_s: dict[str, float] = {}
        self._seen: set[str] = set()

    @property
    def exhausted(self) -> bool:
        """True when both streams have run dry."""
        return self._singles is None and self._multis is None

    def _next(self, want_singles: int) -> Mutant | None:
        order = ("_singles", "_multis") if self.singles < want_singles else ("_multis", "_singles")
        for attr in order:
            it = getattr(self, attr)
            if it is None:
                continue
            try:
                return next(it)
            except StopIteration:
                setattr(self, attr, None)
            except Exception:  # an engine defect on one program must not sink a 2,000-task build
                log.exception("mutation engine failed on %s; skipping the rest of its stream", self.program.name)
                self.rejected["engine_error"] += 1
                setattr(self, attr, None)
        return None

    def fill(self, quota: int, on_task: Callable[[], None]) -> None:
        """Accept tasks until ``quota`` are held or the streams run dry (budget: 8 per slot)."""
        want_singles = quota - round(quota * self.multi_fraction)
        budget = 8 * max(1, quota - len(self.tasks)) + 16
        while len(self.tasks) < quota and budget > 0:
            mutant = self._next(want_singles)
            if mutant is None:
                return
            digest = hashlib.sha256(mutant.source.encode()).hexdigest()
            if digest in self._seen:  # a combination that renders like an earlier mutant
                continue
            self._seen.add(digest)
            budget -= 1
            self.candidates += 1
            p = self.program
            started = time.perf_counter()
            verdict = validate_candidate(p.reference, mutant.source, p.tests, p.hidden_tests,
                                         entry_point=p.entry_point, limits=self.limits)
            self.validation_s[verdict.reason] = self.validation_s.get(verdict.reason, 0.0) + time.perf_counter() - started
            if not verdict.ok:
                self.rejected[verdict.reason] += 1
                continue
            self.tasks.append(task_from_mutant(p, mutant, verdict, name=f"{p.name}_{digest[:10]}",
                                               provenance={"seed": self.seed}))
            self.singles += len(mutant.mutations) == 1
            on_task()


def build_tasks(programs: Sequence[ReferenceProgram], *, target: int = 2000, seed: int = 0, workers: int = 4,
                max_mutations: int = 3, multi_fraction: float = 0.35,
                progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Generate about ``target`` validated tasks (exactly ``target`` when the programs allow).

    ``progress(done, target)`` is called (from worker threads) after every accepted task.
    ``multi_fraction`` of each program's quota is reserved for 2..``max_mutations``-bug tasks.
    """
    start = time.monotonic()
    report = BuildReport(target=target)
    lock = threading.Lock()
    done = [0]

    def tick() -> None:
        with lock:
            done[0] += 1
            n = done[0]
        if progress is not None:
            progress(min(n, target), target)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        def check(p: ReferenceProgram) -> Verdict:
            verdict = check_reference(p.reference, p.tests, p.hidden_tests, entry_point=p.entry_point)
            if verdict.ok and verdict.duration_ms > SLOW_REFERENCE_MS:  # a cold pool slot, or truly slow?
                verdict = check_reference(p.reference, p.tests, p.hidden_tests, entry_point=p.entry_point)
            return verdict

        verdicts = list(pool.map(check, programs))
        streams = []
        for program, verdict in zip(programs, verdicts, strict=True):
            if not verdict.ok:
                report.skipped_programs.append((program.name, f"{verdict.reason}: {verdict.detail}"[:200]))
            elif not can_catch_hardcoding(program):
                report.skipped_programs.append((program.name, "no hidden test can catch a hard-coder: each repeats "
                                                              "a visible input or is decided inside the sandbox"))
            elif verdict.duration_ms > SLOW_REFERENCE_MS:
                report.skipped_programs.append((program.name, f"slow: its tests take {verdict.duration_ms:.0f} ms"))
            else:
                streams.append(_ProgramStream(program, seed, max_mutations, multi_fraction,
                                              scaled_validation_limits(verdict.slowest_test_ms)))
        report.programs = len(streams)
        for _round in range(4):
            live = [s for s in streams if not s.exhausted]
            have = sum(len(s.tasks) for s in streams)
            if have >= target or not live:
                break
            per = math.ceil((target - have) / len(live))
            list(pool.map(lambda s, per=per: s.fill(len(s.tasks) + per, tick), live))
    # round-robin across programs so a trimmed build stays balanced
    chosen: list[Task] = []
    queues = []
    for s in sorted(streams, key=lambda s: s.program.name):
        q = list(s.tasks)  # acceptance order puts single bugs first: mix before trimming
        random.Random(program_seed(s.program.name, seed)).shuffle(q)
        queues.append(q)
    depth = 0
    while len(chosen) < target and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(chosen) < target:
                chosen.append(q[depth])
        depth += 1
    order = {id(t): i for i, t in enumerate(chosen)}
    keep = {id(t) for t in chosen}
    report.tasks = [t for s in sorted(streams, key=lambda s: s.program.name) for t in s.tasks if id(t) in keep]
    report.tasks.sort(key=lambda t: (t.provenance["program"], order[id(t)]))
    for s in streams:
        report.candidates += s.candidates
        report.rejected.update(s.rejected)
        for reason, spent in s.validation_s.items():
            report.validation_s[reason] = report.validation_s.get(reason, 0.0) + spent
    report.elapsed_s = time.monotonic() - start
    return report
