"""Which episodes an evaluation runs: tasks (bank or pack), tiers, variants, filter, shuffle, slice.

Order of operations, as in mini-swe-agent's batch mode: take the source's tasks (the built-in
bank, or a pack), keep the named ones (names or aliases, in the order given) and the chosen
tiers, keep names matching ``filter`` (a regular expression, searched), shuffle with
``seed`` if asked, then apply ``slice`` (``start:stop[:step]``, Python semantics). Every kept
task is expanded into its variants, and every (task, variant) into ``samples`` episodes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tracefix_rl.core.errors import TaskError
from tracefix_rl.evaluation._schema import episode_key, instance_id

__all__ = ["EpisodeSpec", "EvalTask", "parse_slice", "parse_variants", "plan_episodes", "select_tasks"]


@dataclass(frozen=True)
class EvalTask:
    """One selected (task, variant): what ``reset`` needs, and what the report names it by."""

    name: str
    tier: str
    """The base task's tier (a variant is rated again; results carry the episode's own tier)."""
    variant: int
    task_hash: str
    """Content hash of the base task."""
    pack: str | None
    """The pack path ``reset(task_pack=...)`` takes, ``None`` for the built-in bank."""

    @property
    def instance(self) -> str:
        """See :func:`~tracefix_rl.evaluation.instance_id`."""
        return instance_id(self.name, self.variant)


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to run: a task, a sample number and the environment seed."""

    task: EvalTask
    sample: int
    seed: int

    @property
    def key(self) -> str:
        """See :func:`~tracefix_rl.evaluation.episode_key`."""
        return episode_key(self.task.name, self.task.variant, self.sample)


def parse_slice(spec: str | None) -> slice | None:
    """``"0:5"``, ``"10:"``, ``":20:2"`` -> a slice; ``None``/empty -> ``None``."""
    if not spec:
        return None
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise TaskError(f"--slice must look like start:stop or start:stop:step, got {spec!r}")
    try:
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise TaskError(f"--slice must contain integers, got {spec!r}") from None
    if len(values) == 3 and values[2] == 0:
        raise TaskError("--slice step cannot be zero")
    return slice(*values)


def parse_variants(spec: str | None) -> list[int]:
    """``"0"``, ``"0..3"`` (inclusive), ``"0,2,5"`` or a mix (``"0,4..6"``) -> sorted unique ints."""
    if spec is None or not spec.strip():
        return [0]
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split("..", 1))
                if hi < lo:
                    raise TaskError(f"--variants range {part!r} is empty")
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise TaskError(f"--variants must be integers or ranges like 0..3, got {part!r}") from None
    if any(v < 0 for v in out):
        raise TaskError("--variants must be non-negative")
    return sorted(out)


def select_tasks(*, names: Sequence[str] = (), tiers: Sequence[str] = (), pack: str | None = None,
                 variants: Sequence[int] = (0,), pattern: str | None = None, shuffle: bool = False,
                 seed: int = 0, window: slice | None = None) -> list[EvalTask]:
    """The selected (task, variant) pairs, in run order (see the module docstring).

    Raises:
        UnknownTaskError: a name is not in the source.
        TaskError: an unknown tier, a bad regular expression, or nothing selected.
    """
    from tracefix_rl.data.tasks import DIFFICULTIES, open_task_source

    source = open_task_source(pack)
    bad = [t for t in tiers if t not in DIFFICULTIES]
    if bad:
        raise TaskError(f"unknown tier {bad[0]!r}; tiers are {', '.join(DIFFICULTIES)}")
    if names:
        tasks = list({t.name: t for t in (source.get(n) for n in names)}.values())  # aliases resolved, deduplicated
    else:
        tasks = source.tasks()
    if tiers:
        tasks = [t for t in tasks if t.difficulty in tiers]
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise TaskError(f"--filter is not a valid regular expression: {exc}") from None
        tasks = [t for t in tasks if regex.search(t.name)]
    if shuffle:
        random.Random(seed).shuffle(tasks)
    if window is not None:
        tasks = tasks[window]
    if not tasks:
        raise TaskError("no task matches the selection")
    pack_path = None if pack in (None, "", "builtin") else str(getattr(source, "path", pack))
    return [EvalTask(t.name, t.difficulty, v, t.content_hash, pack_path) for t in tasks for v in variants]


def plan_episodes(tasks: Sequence[EvalTask], samples: int, *, seed: int = 0) -> list[EpisodeSpec]:
    """Every (task, sample) episode, task by task; sample ``s`` resets with seed ``seed + s``."""
    if samples < 1:
        raise TaskError(f"--samples must be at least 1, got {samples}")
    return [EpisodeSpec(t, s, seed + s) for t in tasks for s in range(samples)]
