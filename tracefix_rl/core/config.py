"""Configuration as data: sandbox limits, reward constants and environment settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["EnvConfig", "Limits", "RewardConfig"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job. All are enforced by the sandbox, never by the driver."""

    wall_s: float = 5.0
    """Wall-clock deadline for the whole job; the parent kills the process group at expiry."""
    cpu_s: int = 5
    """RLIMIT_CPU, in seconds."""
    memory_mb: int = 1024
    """RLIMIT_AS, in MiB."""
    fsize_mb: int = 16
    """RLIMIT_FSIZE, in MiB: the largest file the job may write."""
    nofile: int = 256
    """RLIMIT_NOFILE."""
    nproc: int = 64
    """RLIMIT_NPROC (only meaningful when jobs run under a per-slot uid)."""
    output_bytes: int = 65536
    """Cap on captured stdout and on stderr, each; the tail is kept."""
    per_test_s: float = 2.0
    """Cooperative per-test timeout applied by the test driver (the wall clock is the backstop)."""
    record_bytes: int = 4 << 20
    """Cap on the bytes of records a job may send back, enforced while reading: beyond it the
    job is killed (``output_limit``). At most 16 MiB."""
    max_records: int = 10_000
    """Cap on the number of records a job may send back, enforced while reading: beyond it the
    job is killed and the program is said to have broken the harness protocol."""
    nice_after_s: float = 0.1
    """After this much wall-clock time a job runs at the lowest CPU priority (nice 19), so that
    long-running or spinning jobs cannot slow down short ones. ``0`` disables it."""

    def to_dict(self) -> dict[str, Any]:
        """Return the limits as a plain dict (recorded in trajectory manifests)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class RewardConfig:
    """Per-step reward terms and the final-score formula (:mod:`tracefix_rl.core.scoring`).

    The shaping terms for tests are potential-based (the change, since the last evaluation,
    in how many visible FAIL_TO_PASS tests pass and how many visible PASS_TO_PASS tests fail),
    so breaking and re-fixing code cannot farm reward. The original +0.10 bonus for every
    RUN_TESTS is deliberately absent: it paid for spamming runs.
    """

    step_cost: float = -0.01
    """Every step, including invalid ones (``scoring="pass_rate"`` also subtracts the sum from
    the final score, as the original project did)."""
    fail_to_pass: float = 0.05
    """Per visible FAIL_TO_PASS test that starts passing (taken back if it fails again)."""
    pass_to_pass: float = -0.05
    """Per visible PASS_TO_PASS test that starts failing (given back when it passes again)."""
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
    scoring: Literal["resolution", "pass_rate"] = "resolution"
    """``resolution`` (default): a high band when every test passes, a small capped credit
    otherwise. ``pass_rate``: the original project's pass rate minus step costs."""
    resolved_max: float = 0.98
    """Score of a resolved episode before step costs."""
    resolved_min: float = 0.90
    """Lowest score of a resolved episode, however many steps it took."""
    score_step_cost: float = 0.004
    """Subtracted per step from a resolved episode's score (down to ``resolved_min``)."""
    partial_max: float = 0.25
    """Most an unresolved episode earns above ``score_min`` (all FAIL_TO_PASS tests passing)."""
    hidden_weight: float = 2.0
    """How many visible FAIL_TO_PASS tests one hidden FAIL_TO_PASS test weighs in partial credit."""
    score_min: float = 0.01
    """Lowest final score (scores lie strictly inside (0, 1))."""
    score_max: float = 0.98
    """Highest final score."""

    def __post_init__(self) -> None:
        if self.scoring not in ("resolution", "pass_rate"):
            raise ValueError(f"scoring must be 'resolution' or 'pass_rate', got {self.scoring!r}")
        if not 0 < self.score_min <= self.resolved_min <= self.resolved_max <= self.score_max < 1:
            raise ValueError("need 0 < score_min <= resolved_min <= resolved_max <= score_max < 1")
        if self.partial_max < 0 or self.score_min + self.partial_max >= self.resolved_min:
            raise ValueError("partial credit must stay below the resolved band: "
                             "score_min + partial_max < resolved_min")
        if self.hidden_weight < 1:
            raise ValueError("hidden_weight must be at least 1 (hidden tests weigh at least as much as visible)")

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
