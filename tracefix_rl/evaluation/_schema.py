"""What an evaluation writes: one :class:`EpisodeResult` per episode, one :class:`EvalReport` per run.

Both are pydantic models, because they are the files other tools read (``results.jsonl``,
``report.json``). :class:`ExitStatus` says how an episode ended, as typed data:

==================  =========================================================  ==============
status              meaning                                                    counted
==================  =========================================================  ==============
``submitted``       the agent submitted                                        yes
``step_budget``     the step budget ran out (graded as the program stood)      yes
``parse_errors``    the model's replies could not be parsed (kill switch)      yes
``loop``            the same action on unchanged code (kill switch)            yes
``time_limit``      the per-episode wall-clock limit was reached               yes
``model_error``     the model endpoint gave no reply (kill switch)             no, re-run on resume
``infra_error``     the environment failed (sandbox, server, connection)       no, retried
``task_error``      the task could not be set up (e.g. it has no such variant) no
``harness_error``   the harness or a built-in agent raised: a bug (exit 1)     no, re-run on resume
==================  =========================================================  ==============

"Counted" episodes are the denominators of every rate: an infrastructure failure is never
the agent's failure (SWE-bench's rule), and it is listed separately.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COUNTED",
    "REPORT_SCHEMA",
    "RERUN_ON_RESUME",
    "EpisodeResult",
    "EvalReport",
    "ExitStatus",
    "TierStats",
    "episode_key",
    "instance_id",
]

REPORT_SCHEMA = "tracefix-eval/1"
"""``schema`` of ``report.json``; bumped on any incompatible change."""


class ExitStatus(StrEnum):
    """How an episode ended (see the module docstring)."""

    SUBMITTED = "submitted"
    STEP_BUDGET = "step_budget"
    PARSE_ERRORS = "parse_errors"
    LOOP = "loop"
    TIME_LIMIT = "time_limit"
    MODEL_ERROR = "model_error"
    INFRA_ERROR = "infra_error"
    TASK_ERROR = "task_error"
    HARNESS_ERROR = "harness_error"


COUNTED: frozenset[ExitStatus] = frozenset({ExitStatus.SUBMITTED, ExitStatus.STEP_BUDGET, ExitStatus.PARSE_ERRORS,
                                            ExitStatus.LOOP, ExitStatus.TIME_LIMIT})
"""Statuses that count as the agent's attempt (the denominators of every rate)."""

RERUN_ON_RESUME: frozenset[ExitStatus] = frozenset({ExitStatus.INFRA_ERROR, ExitStatus.MODEL_ERROR,
                                                    ExitStatus.HARNESS_ERROR})
"""Statuses ``--resume`` runs again (everything else is a finished episode)."""


def instance_id(task: str, variant: int) -> str:
    """``task`` for variant 0, ``task@v<k>`` otherwise: what pass@k groups samples by."""
    return task if variant == 0 else f"{task}@v{variant}"


def episode_key(task: str, variant: int, sample: int) -> str:
    """``<instance id>#<sample>``: the unit ``--resume`` skips and the id lists name."""
    return f"{instance_id(task, variant)}#{sample}"


class EpisodeResult(BaseModel):
    """One line of ``results.jsonl``: one episode (the last attempt of it)."""

    model_config = ConfigDict(extra="allow")

    key: str
    """:func:`episode_key` of (task, variant, sample)."""
    task: str
    tier: str | None = None
    """The episode's difficulty as the environment reported it (a variant has its own rating)."""
    variant: int = 0
    sample: int = 0
    seed: int = 0
    episode_id: str | None = None
    """The trajectory id in ``trajectories.sqlite3`` (``tracefix trajectories show ID``)."""
    task_hash: str | None = None
    resolved: bool = False
    """Every FAIL_TO_PASS and PASS_TO_PASS test, visible and hidden, passes (the environment's flag)."""
    final_score: float | None = None
    visible_passed: int | None = None
    visible_total: int | None = None
    hidden_passed: int | None = None
    hidden_total: int | None = None
    steps: int = 0
    end_reason: str | None = None
    """The environment's end reason (``submitted`` / ``step_budget``), ``None`` if it did not end."""
    exit_status: ExitStatus
    error: str | None = None
    actions: dict[str, int] = Field(default_factory=dict)
    """Action type -> how many times the agent took it."""
    model_calls: int = 0
    parse_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    attempts: int = 1
    """1 plus the in-run retries after infrastructure errors."""
    isolation: str | None = None
    started_at: float = 0.0

    @property
    def counted(self) -> bool:
        """Whether this episode is in the denominators (see :data:`COUNTED`)."""
        return self.exit_status in COUNTED

    @property
    def instance(self) -> str:
        """:func:`instance_id` of this episode."""
        return instance_id(self.task, self.variant)


class TierStats(BaseModel):
    """Resolution and score of the counted episodes of one tier (or of all of them)."""

    episodes: int = 0
    resolved: int = 0
    resolved_rate: float | None = None
    mean_score: float | None = None
    mean_steps: float | None = None
    mean_wall_s: float | None = None
    """Wall-clock seconds per episode."""


class EvalReport(BaseModel):
    """``report.json``: a whole run, SWE-bench style counts and id lists plus pass@k.

    Counts and ids are over episodes (``<task>[@v<k>]#<sample>``); the ``*_instances``
    counts are over instances (task and variant), an instance being resolved when any of its
    samples is. Rates and means use counted episodes only (see :data:`COUNTED`).
    """

    model_config = ConfigDict(extra="allow")

    schema_: str = Field(REPORT_SCHEMA, alias="schema")
    run: dict[str, Any] = Field(default_factory=dict)
    """Run id, start and end time, wall seconds, whether it completed."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The agent (kind, model, endpoint host, sampling), the task selection and the harness options."""
    identity: dict[str, Any] = Field(default_factory=dict)
    """Package and Python versions, sandbox isolation, task source and hash of the selected tasks."""

    total_episodes: int = 0
    completed_episodes: int = 0
    resolved_episodes: int = 0
    unresolved_episodes: int = 0
    infra_error_episodes: int = 0
    model_error_episodes: int = 0
    task_error_episodes: int = 0
    harness_error_episodes: int = 0
    incomplete_episodes: int = 0
    """Selected episodes with no result yet (an interrupted run)."""
    total_instances: int = 0
    resolved_instances: int = 0

    completed_ids: list[str] = Field(default_factory=list)
    resolved_ids: list[str] = Field(default_factory=list)
    unresolved_ids: list[str] = Field(default_factory=list)
    infra_error_ids: list[str] = Field(default_factory=list)
    model_error_ids: list[str] = Field(default_factory=list)
    task_error_ids: list[str] = Field(default_factory=list)
    harness_error_ids: list[str] = Field(default_factory=list)
    incomplete_ids: list[str] = Field(default_factory=list)
    resolved_instance_ids: list[str] = Field(default_factory=list)

    resolved_rate: float | None = None
    by_tier: dict[str, TierStats] = Field(default_factory=dict)
    pass_at_k: dict[str, float | None] = Field(default_factory=dict)
    """``"k"`` -> mean unbiased pass@k over the instances with at least k counted samples."""
    pass_at_k_instances: dict[str, int] = Field(default_factory=dict)
    """``"k"`` -> how many instances that mean covers."""
    score: dict[str, float | None] = Field(default_factory=dict)
    """Final score over counted episodes: mean, std, median, min, max."""
    steps: dict[str, float | None] = Field(default_factory=dict)
    """Steps per counted episode: mean, median, max."""
    tokens: dict[str, float] = Field(default_factory=dict)
    """Prompt, completion and total tokens over all episodes, and the mean per counted episode."""
    wall_s: dict[str, float | None] = Field(default_factory=dict)
    """Seconds per episode: mean, median, max; and the episodes per minute of the run."""
    score_histogram: list[dict[str, float | int]] = Field(default_factory=list)
    """Final scores of counted episodes in 20 bins of width 0.05: ``{lo, hi, count}``."""
    steps_histogram: list[dict[str, float | int]] = Field(default_factory=list)
    """Steps of counted episodes in equal-width bins: ``{lo, hi, count}`` (``hi`` exclusive)."""
    by_exit_status: dict[str, int] = Field(default_factory=dict)
    action_mix: dict[str, int] = Field(default_factory=dict)
    by_task: list[dict[str, Any]] = Field(default_factory=list)
    """Per instance: task, variant, tier, samples, resolved, pass@k, mean score and steps, statuses."""
    failure_reasons: dict[str, str] = Field(default_factory=dict)
    """Episode id -> the error of every episode that was not counted."""

    def to_json(self) -> str:
        """The report as indented JSON (with the ``schema`` key)."""
        return self.model_dump_json(by_alias=True, indent=2)
