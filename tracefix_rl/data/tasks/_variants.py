"""Variants: ``reset(task_name=..., variant=k)`` gives a fresh, validated bug in the same program.

Variant ``k >= 1`` of a task is the ``k``-th valid mutant of the task's *reference* in the
seeded order of :func:`~tracefix_rl.engines.mutation.sample_mutants` (up to two bugs), seeded
by the task's content hash, and validated like a build candidate against the task's own
visible and hidden tests. So variant ``k`` depends only on the task: every process, machine
and run gets the same program. Variant ``0`` is the task as written.

The variant keeps the base task's name (so recorded episodes replay with
``reset(task_name, variant=k)``), gets its own difficulty rating, and records the base task's
name and hash plus the mutations in ``provenance``. Valid mutants are computed lazily and
cached per process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from tracefix_rl.core.errors import TaskError
from tracefix_rl.core.task import Task
from tracefix_rl.data.tasks._build import program_seed, task_from_mutant
from tracefix_rl.data.tasks._corpus import ReferenceProgram
from tracefix_rl.data.tasks._validate import Verdict, validate_candidate
from tracefix_rl.engines.mutation import Mutant, sample_mutants

__all__ = ["CANDIDATES_PER_VARIANT", "MAX_VARIANT_CANDIDATES", "make_variant"]

#: How many candidates are tried, in total, before a task is declared out of variants.
MAX_VARIANT_CANDIDATES = 400
#: Variant ``k`` exists only among the first ``CANDIDATES_PER_VARIANT * k + 16`` candidates, so
#: asking for a variant costs a bounded number of sandbox validations (a task whose mutants are
#: rarely valid has fewer variants instead of making one reset validate hundreds).
CANDIDATES_PER_VARIANT = 4

_lock = threading.Lock()
_task_locks: dict[str, threading.Lock] = {}
_streams: dict[str, tuple[Iterator[Mutant], list[tuple[Mutant, Verdict]], list[int]]] = {}


def _valid(task: Task, k: int) -> tuple[Mutant, Verdict] | None:
    with _lock:
        task_lock = _task_locks.setdefault(task.content_hash, threading.Lock())
    with task_lock:  # one task's stream advances in one thread at a time
        entry = _streams.get(task.content_hash)
        if entry is None:
            it = sample_mutants(task.reference, program_seed(task.content_hash, 0), max_mutations=2)
            entry = (it, [], [0])
            _streams[task.content_hash] = entry
        it, found, tried = entry
        while len(found) < k and tried[0] < min(MAX_VARIANT_CANDIDATES, CANDIDATES_PER_VARIANT * k + 16):
            try:
                mutant = next(it)
            except StopIteration:
                break
            tried[0] += 1
            if mutant.source.strip() == task.buggy.strip():
                continue  # the base task itself is variant 0
            verdict = validate_candidate(task.reference, mutant.source, task.tests, task.hidden_tests,
                                         entry_point=task.entry_point)
            if verdict.ok:
                found.append((mutant, verdict))
        return found[k - 1] if len(found) >= k else None


def make_variant(task: Task, k: int) -> Task:
    """Variant ``k`` of ``task`` (``k == 0`` returns the task); raises TaskError if there is none."""
    if not isinstance(k, int) or k < 0:
        raise TaskError(f"variant must be a non-negative integer, got {k!r}")
    if k == 0:
        return task
    hit = _valid(task, k)
    if hit is None:
        raise TaskError(f"task {task.name!r} has no variant {k}: its reference yields fewer valid mutants")
    mutant, verdict = hit
    program = ReferenceProgram.from_task(task, origin=str(task.provenance.get("origin") or f"task:{task.name}"))
    variant = task_from_mutant(program, mutant, verdict, name=task.name,
                               provenance={"variant": k, "base_task": task.name, "base_hash": task.content_hash})
    return Task(**{**variant.__dict__, "max_steps": task.max_steps})
