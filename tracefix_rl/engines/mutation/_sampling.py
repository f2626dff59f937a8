"""Drawing mutants of a program in a seeded order: singles first, then combinations."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tracefix_rl.engines.mutation._apply import apply_mutations, find_sites
from tracefix_rl.engines.mutation._model import Mutant, MutationError, Site, normalized

__all__ = ["sample_mutants"]


def _overlaps(a: Site, b: Site) -> bool:
    return not (a.end_line < b.line or b.end_line < a.line)


def sample_mutants(source: str, seed: int, *, max_mutations: int = 1, min_mutations: int = 1,
                   operators: list[str] | None = None, limit: int | None = None) -> Iterator[Mutant]:
    """Yield distinct mutants of ``source`` in an order fixed by ``seed``.

    Single mutations come first (unless ``min_mutations > 1``) in a shuffled order,
    round-robin over operators so no operator dominates; when ``max_mutations > 1``,
    combinations of ``max(2, min_mutations)``..``max_mutations`` sites on different lines
    follow. Mutants that fail to render, or that normalise to the reference or to an earlier
    mutant, are skipped. Validation (running tests) is the caller's job.
    """
    rng = random.Random(seed)
    sites = find_sites(source, operators)
    ref_norm = normalized(source)
    seen = {ref_norm}
    by_op: dict[str, list[Site]] = {}
    for s in sites:
        by_op.setdefault(s.operator, []).append(s)
    for group in by_op.values():
        rng.shuffle(group)
    singles: list[Site] = []
    names = sorted(by_op)
    rng.shuffle(names)
    while any(by_op.values()):
        for name in names:
            if by_op[name]:
                singles.append(by_op[name].pop())
    produced = 0

    def emit(combo: list[Site]) -> Mutant | None:
        try:
            mutant = apply_mutations(source, combo)
        except (MutationError, ValueError, SyntaxError, RecursionError):
            return None
        norm = normalized(mutant.source)
        if norm is None or norm in seen:
            return None
        seen.add(norm)
        return mutant

    for site in singles if min_mutations <= 1 else ():
        m = emit([site])
        if m is not None:
            yield m
            produced += 1
            if limit is not None and produced >= limit:
                return
    if max_mutations < 2 or len(singles) < 2:
        return
    # combinations: operators are drawn uniformly first, then one of their sites, so operators
    # with many sites (wrong_variable) do not crowd out the others
    pool: dict[str, list[Site]] = {}
    for site in singles:
        pool.setdefault(site.operator, []).append(site)
    op_names = sorted(pool)
    attempts = 0
    while attempts < 40 * max(1, len(singles)):
        attempts += 1
        k = rng.randint(max(2, min_mutations), max_mutations)
        combo = [rng.choice(pool[rng.choice(op_names)]) for _ in range(k)]
        if any(a == b or _overlaps(a, b) for i, a in enumerate(combo) for b in combo[i + 1:]):
            continue
        m = emit(sorted(combo, key=lambda s: (s.line, s.index)))
        if m is not None:
            yield m
            produced += 1
            if limit is not None and produced >= limit:
                return
