"""Configuration as data: reward constants and environment settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tracefix_rl.sandbox._base import Limits

__all__ = ["EnvConfig", "RewardConfig"]


@dataclass(frozen=True)
class RewardConfig:
    """Per-step reward terms. Defaults follow the original TraceFix-RL constants.

    The shaping terms for tests are potential-based (a change in the number of passing visible
    tests since the last evaluation), so breaking and re-fixing code cannot farm reward. The
    original +0.10 bonus for every RUN_TESTS is deliberately absent: it paid for spamming runs.
    """

    step_cost: float = -0.01
    """Every step, including invalid ones. Also subtracted (summed) from the final score."""
    new_pass: float = 0.05
    """Per visible test that passes now and did not at the previous evaluation."""
    regression: float = -0.05
    """Per visible test that passed at the previous evaluation and fails now."""
    syntax_error: float = -0.10
    """An edit that leaves the program unparsable, or running tests on such a program."""
    invalid_action: float = -0.02
    """A malformed action (bad line range, missing block, unknown test name, ...)."""
    destructive_edit: float = -0.20
    """Refused: an empty block that would delete more than ``destructive_lines`` lines."""
    destructive_lines: int = 5
    """Deleting more lines than this with one empty block counts as destructive."""
    repeated_action: float = -0.05
    """Times the number of immediate repeats of an identical action on identical code."""
    undo_reset: float = -0.10
    """UNDO_EDIT and RESET_TO_ORIGINAL."""
    score_min: float = 0.01
    """Lower clamp of the final score (scores lie strictly inside (0, 1))."""
    score_max: float = 0.98
    """Upper clamp of the final score."""

    def to_dict(self) -> dict[str, Any]:
        """All constants as a dict (recorded in every trajectory manifest)."""
        return asdict(self)


@dataclass(frozen=True)
class EnvConfig:
    """Settings of a :class:`~tracefix_rl.env.TraceFixEnvironment`."""

    max_steps: int = 50
    """Step budget; at the last step the episode is scored as if submitted."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    limits: Limits = field(default_factory=Limits)
    """Sandbox limits for RUN_TESTS, SUBMIT and TRACE jobs."""
    max_program_chars: int = 100_000
    """An edit that would make the program longer than this is refused (an invalid action)."""
    context_radius: int = 10
    """Lines shown on each side of the anchor in ``localized_context``."""
    context_max_chars: int = 2000
    trace_max_frames: int = 400
    """Frames a TRACE may produce before it is cut (the cut is shown)."""
    trace_max_chars: int = 6000
    """Size of the readable trace rendering in ``last_execution_output``."""
    seed: int | None = None
    """Seeds the sequence of episode seeds used when ``reset`` gets ``seed=None`` (a fixed value gives a
    reproducible sequence); ``None`` draws fresh OS entropy for every environment."""
    record: bool = True
    """Record every episode with the default recorder (:func:`tracefix_rl.trajectory.default_recorder`:
    ``$TRACEFIX_DB``, off when ``TRACEFIX_RECORD=0``) when no ``recorder`` is passed."""
