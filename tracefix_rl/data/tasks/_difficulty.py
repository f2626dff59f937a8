"""A computed, documented difficulty rating for generated and imported tasks.

Features (all measured from the validation run, no extra sandbox job):

``mutations`` (m)
    number of planted bugs (1 to 3).
``fail_fraction`` (f)
    fraction of all tests (visible + hidden) that fail. Bugs that break everything are
    obvious; bugs that fail one edge case are not.
``pointer``
    ``"bug_line"`` if some failing test's traceback ends on a mutated line, ``"elsewhere"``
    if tracebacks exist but end elsewhere, ``"none"`` if every failure is a wrong value (no
    traceback at all).
``distance`` (d)
    lines between the nearest traceback line and the nearest mutated line (``None`` when
    there is no traceback).
``simple_repair``
    whether one application of one mutation operator to the buggy program gives back the
    reference exactly (up to formatting): the best a brute-force generate-and-validate
    repairer with this operator set can do. Only sites on the mutated lines are tried, which
    gives the same answer as trying every site (a site elsewhere leaves the bug in place).
``subtlety`` (s)
    a per-operator constant in [0, 0.6] (mean over the mutations): operators whose effect is
    easy to overlook (a swapped comparison strictness, a wrong variable of the same kind)
    rate higher than ones that crash (a removed return).

Score::

    score = 1.0 * (m - 1)
          + 1.5 * (1 - f)
          + {"bug_line": 0.0, "elsewhere": 0.75, "none": 1.0}[pointer]
          + 0.5 * min(d, 8) / 8            (0 when d is None)
          + (0.0 if simple_repair else 1.0)
          + s

Tiers: ``easy`` if score < EASY_BELOW, ``hard`` if score >= HARD_FROM, else ``medium``.
The thresholds were chosen on the default 2,000-task build (built-in corpus + HumanEval) so
that the tiers come out at roughly 40 / 35 / 25 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tracefix_rl.engines.mutation import (
    OPERATORS,
    Mutant,
    MutationError,
    apply_mutations,
    find_sites,
    normalized,
)

__all__ = ["EASY_BELOW", "HARD_FROM", "Rating", "rate", "rate_mutant", "simple_repair_finds", "tier_of"]

EASY_BELOW = 2.0
HARD_FROM = 2.9


@dataclass(frozen=True)
class Rating:
    """The features, the score and the tier of one task."""

    mutations: int
    fail_fraction: float
    pointer: str
    distance: int | None
    simple_repair: bool
    subtlety: float
    score: float
    tier: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored in the task's provenance)."""
        return asdict(self)


def tier_of(score: float) -> str:
    """Map a score to ``easy``, ``medium`` or ``hard`` with the module thresholds."""
    if score < EASY_BELOW:
        return "easy"
    return "hard" if score >= HARD_FROM else "medium"


def simple_repair_finds(buggy: str, reference: str, bug_lines: Sequence[int]) -> bool:
    """True if one operator application on ``buggy`` at ``bug_lines`` recovers ``reference``."""
    target = normalized(reference)
    lines = set(bug_lines)
    try:
        sites = find_sites(buggy)
    except SyntaxError:
        return False
    for site in sites:
        if not any(site.line <= ln <= site.end_line for ln in lines):
            continue
        try:
            if normalized(apply_mutations(buggy, [site]).source) == target:
                return True
        except (MutationError, ValueError, SyntaxError):
            continue
    return False


def rate(*, operators: Sequence[str], bug_lines: Sequence[int], fail_fraction: float,
         failing_lines: Sequence[int | None], simple_repair: bool) -> Rating:
    """Compute the rating from the features (see the module docstring for the formula)."""
    m = max(1, len(operators))
    tb = [ln for ln in failing_lines if ln]
    if not tb:
        pointer, distance = "none", None
    else:
        distance = min(abs(t - b) for t in tb for b in bug_lines) if bug_lines else None
        pointer = "bug_line" if distance == 0 else "elsewhere"
    # each operator declares its subtlety; mutations of unknown origin (imports) count as 0.3
    subtlety = sum(OPERATORS[op].subtlety if op in OPERATORS else 0.3 for op in operators) / m if operators else 0.3
    score = (1.0 * (m - 1) + 1.5 * (1 - fail_fraction)
             + {"bug_line": 0.0, "elsewhere": 0.75, "none": 1.0}[pointer]
             + (0.5 * min(distance, 8) / 8 if distance is not None else 0.0)
             + (0.0 if simple_repair else 1.0) + subtlety)
    score = round(score, 3)
    return Rating(m, round(fail_fraction, 3), pointer, distance, simple_repair, round(subtlety, 3), score,
                  tier_of(score))


def rate_mutant(mutant: Mutant, reference: str, verdict: Any) -> Rating:
    """Rate a validated mutant from its :class:`~tracefix_rl.data.tasks._validate.Verdict`."""
    statuses = verdict.visible + verdict.hidden
    failing = [ln for ln, st in zip(verdict.lines, statuses, strict=False) if st != "passed"]
    lines = list(mutant.lines)
    repair = len(mutant.mutations) == 1 and simple_repair_finds(mutant.source, reference, lines)
    return rate(operators=mutant.operators, bug_lines=lines, fail_fraction=verdict.fail_fraction,
                failing_lines=failing, simple_repair=repair)
