"""The final score: one formula, used by the environment, the graders, the agents and ``inference.py``.

An episode is graded on every visible and hidden test, each with its stored role (as in
SWE-bench): FAIL_TO_PASS tests fail on the buggy program and pass on the reference;
PASS_TO_PASS tests pass on both. The episode is **resolved** when every test of both roles
passes. The default scoring (``RewardConfig(scoring="resolution")``) pays for that and for
little else:

* resolved: ``resolved_max - score_step_cost * steps``, never below ``resolved_min``
  (0.98 down to 0.90: the band of a fixed bug, a little higher for fewer steps);
* not resolved: ``score_min + partial_max * max(0, progress - regressions)``, where
  ``progress`` is the weighted share of FAIL_TO_PASS tests that now pass (a hidden one
  weighs ``hidden_weight`` visible ones) and ``regressions`` the share of PASS_TO_PASS tests
  that now fail; so at most 0.26 by default, and the unchanged buggy program scores the
  minimum, 0.01. Only tests whose verdict the environment reaches itself, by comparing a
  value the program returned, earn partial credit: a test whose expected value is fixed by
  its shape (``bool(...) -> True``) is decided inside the sandbox, where the program could
  subvert it, so it counts for resolution only.

``RewardConfig(scoring="pass_rate")`` keeps the original project's formula for comparisons:
the pass rate over visible and hidden tests plus the accumulated step costs. Every score is
rounded to two decimals and lies in ``[score_min, score_max]``, strictly inside (0, 1).

>>> from tracefix_rl.core.config import RewardConfig
>>> cfg = RewardConfig()
>>> final_score(TestTally(f2p_visible=(0, 2), f2p_hidden=(0, 3), p2p=(4, 4)), steps=1, config=cfg)
0.01
>>> final_score(TestTally(f2p_visible=(2, 2), f2p_hidden=(3, 3), p2p=(4, 4)), steps=5, config=cfg)
0.96
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracefix_rl.core.config import RewardConfig

__all__ = ["SCORE_MAX", "SCORE_MIN", "TestTally", "clamp_score", "final_score"]

#: The lowest and highest final score under the default configuration.
SCORE_MIN: float = RewardConfig.score_min
SCORE_MAX: float = RewardConfig.score_max


@dataclass(frozen=True)
class TestTally:
    """How a graded program did, as ``(passed, total)`` pairs per role and visibility."""

    __test__ = False  # not a pytest class

    f2p_visible: tuple[int, int]
    """FAIL_TO_PASS visible tests: passed, total."""
    f2p_hidden: tuple[int, int]
    """FAIL_TO_PASS hidden tests: passed, total."""
    p2p: tuple[int, int]
    """PASS_TO_PASS tests, visible and hidden: passed, total."""
    credit_visible: tuple[int, int] | None = None
    """The visible FAIL_TO_PASS tests that earn partial credit (``None``: all of them)."""
    credit_hidden: tuple[int, int] | None = None
    """The hidden FAIL_TO_PASS tests that earn partial credit (``None``: all of them)."""

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[tuple[str, bool, bool, bool]]) -> TestTally:
        """Tally ``(role, hidden, passed, credited)`` tuples; ``role`` is ``fail_to_pass`` or
        ``pass_to_pass``, ``credited`` false for a test decided inside the sandbox."""
        counts = {key: [0, 0] for key in ("fv", "fh", "cv", "ch", "p")}
        for role, hidden, passed, credited in outcomes:
            if role == "fail_to_pass":
                keys = ["fh", "ch"] if hidden else ["fv", "cv"]
                if not credited:
                    keys.pop()
            elif role == "pass_to_pass":
                keys = ["p"]
            else:
                raise ValueError(f"unknown test role {role!r}")
            for key in keys:
                counts[key][0] += bool(passed)
                counts[key][1] += 1
        pair = {k: (v[0], v[1]) for k, v in counts.items()}
        return cls(f2p_visible=pair["fv"], f2p_hidden=pair["fh"], p2p=pair["p"], credit_visible=pair["cv"],
                   credit_hidden=pair["ch"])

    @property
    def passed(self) -> int:
        """Tests passed, all roles."""
        return self.f2p_visible[0] + self.f2p_hidden[0] + self.p2p[0]

    @property
    def total(self) -> int:
        """Tests graded, all roles."""
        return self.f2p_visible[1] + self.f2p_hidden[1] + self.p2p[1]

    @property
    def resolved(self) -> bool:
        """Every FAIL_TO_PASS and PASS_TO_PASS test passes (and there was something to grade)."""
        return self.total > 0 and self.passed == self.total

    def progress(self, hidden_weight: float) -> float:
        """Weighted share of credited FAIL_TO_PASS tests that pass; a hidden one counts ``hidden_weight`` times."""
        (pv, tv), (ph, th) = self.credit_visible or self.f2p_visible, self.credit_hidden or self.f2p_hidden
        weight = tv + hidden_weight * th
        return (pv + hidden_weight * ph) / weight if weight else 0.0

    @property
    def regressions(self) -> float:
        """Share of PASS_TO_PASS tests that fail (0 when there are none)."""
        return (self.p2p[1] - self.p2p[0]) / self.p2p[1] if self.p2p[1] else 0.0


def clamp_score(raw: object, config: RewardConfig | None = None) -> float:
    """``raw`` rounded to two decimals, then clamped to ``[score_min, score_max]``.

    Anything that is not a number (``None``, NaN, text that does not parse) scores the
    minimum, so a printed or reported score is always strictly inside (0, 1).
    """
    cfg = config or RewardConfig()
    try:
        value = round(float(raw), 2)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return cfg.score_min
    if value != value:  # NaN
        return cfg.score_min
    return min(cfg.score_max, max(cfg.score_min, value))


def final_score(tally: TestTally, *, steps: int, config: RewardConfig | None = None) -> float:
    """The final score of an episode graded as ``tally`` after ``steps`` steps (module docstring)."""
    cfg = config or RewardConfig()
    if cfg.scoring == "pass_rate":
        rate = tally.passed / tally.total if tally.total else 0.0
        return clamp_score(rate + cfg.step_cost * steps, cfg)
    if tally.resolved:
        return clamp_score(max(cfg.resolved_min, cfg.resolved_max - cfg.score_step_cost * steps), cfg)
    credit = max(0.0, tally.progress(cfg.hidden_weight) - tally.regressions)
    return clamp_score(cfg.score_min + cfg.partial_max * credit, cfg)
