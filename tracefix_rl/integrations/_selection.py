"""Which episodes a training set holds: tasks (by name, tier or pack) x variants x seeds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tracefix_rl.core.errors import TaskError

__all__ = ["episode_rows"]


def episode_rows(*, tasks: Sequence[str] | None = None, tiers: Sequence[str] | None = None,
                 task_pack: str | None = None, variants: Iterable[int] = (0,),
                 seeds: Iterable[int] = (0,)) -> list[dict[str, Any]]:
    """One ``{task_name, seed, variant, difficulty, task_pack}`` dict per (task, variant, seed),
    tasks in the source's order (tier, then name). These are exactly the ``reset`` arguments of
    the episode, so a row always names the same episode.

    ``tasks`` picks tasks by name or alias (kept only if in ``tiers`` when both are given);
    otherwise every task of ``tiers`` (default: all tiers) of the built-in bank or ``task_pack``.

    Raises:
        UnknownTaskError: a name in ``tasks`` is not in the source. TaskError: a bad tier, or
            nothing selected.
    """
    from tracefix_rl.data.tasks import open_task_source

    source = open_task_source(task_pack)
    if tasks is not None:
        chosen = [source.get(name) for name in tasks]
        if tiers is not None:
            chosen = [t for t in chosen if t.difficulty in tiers]
    else:
        chosen = [t for tier in (tiers or (None,)) for t in source.tasks(tier)]
    variant_list, seed_list = [int(v) for v in variants], [int(s) for s in seeds]
    if not chosen or not variant_list or not seed_list:
        raise TaskError(f"nothing selected: {len(chosen)} task(s), {len(variant_list)} variant(s), "
                        f"{len(seed_list)} seed(s)")
    return [{"task_name": t.name, "seed": seed, "variant": variant, "difficulty": t.difficulty,
             "task_pack": task_pack}
            for t in chosen for variant in variant_list for seed in seed_list]
