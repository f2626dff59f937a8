"""Wire models: the core models re-based on OpenEnv's ``Action``/``Observation``/``State``.

Each wire class inherits the core model first (its fields, descriptions and validators) and the
OpenEnv base second (``metadata``, and the base type ``create_app`` and ``EnvClient`` require).
No logic lives here: conversions are ``model_validate`` over the dumped core model.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from tracefix_rl.core.models import CodeAction, CodeObservation, EpisodeState
from tracefix_rl.env.reset_args import EPISODE_ID_PATTERN, MAX_NAME_CHARS, MAX_VARIANT, SEED_LIMIT

__all__ = [
    "TASK_PACK_NAME_PATTERN",
    "TASK_SPLITS",
    "ResetArgs",
    "StepBody",
    "TraceFixAction",
    "TraceFixObservation",
    "TraceFixState",
    "to_core_action",
    "to_wire_observation",
    "to_wire_state",
]


class TraceFixAction(CodeAction, Action):
    """A :class:`~tracefix_rl.core.models.CodeAction` as OpenEnv sees it (unknown fields are rejected)."""

    model_config = ConfigDict(extra="forbid")


class TraceFixObservation(CodeObservation, Observation):
    """A :class:`~tracefix_rl.core.models.CodeObservation` plus OpenEnv's ``metadata``.

    Everything a client needs is a typed field. ``metadata`` only mirrors ``final_score`` and
    ``last_action_error`` for older clients (the original baseline script reads them there).
    """

    model_config = ConfigDict(extra="forbid")


class TraceFixState(EpisodeState, State):
    """The episode bookkeeping (:class:`~tracefix_rl.core.models.EpisodeState`) as ``/state`` publishes it."""

    model_config = ConfigDict(extra="allow")


TASK_SPLITS = ("graded", "all", "easy", "medium", "hard")
#: A task pack is named by a file or directory name inside the server's ``--task-pack-dir``.
TASK_PACK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ResetArgs(BaseModel):
    """What a client may pass to ``reset`` (WebSocket ``data`` or the ``POST /reset`` body); all optional.

    Unknown fields are refused by name. Values are checked strictly (``1.5`` or ``"3"`` is not
    an integer), with the limits of :mod:`tracefix_rl.env.reset_args`.
    """

    model_config = ConfigDict(extra="forbid")

    task_name: StrictStr | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                        description="A task name or alias (GET /tasks). Omitted: drawn from seed.")
    task_id: StrictStr | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                      description="Synonym of task_name.")
    difficulty: Literal["easy", "medium", "hard"] | None = Field(
        None, description="Tier to draw from when no task is named.")
    seed: StrictInt | None = Field(None, ge=0, lt=SEED_LIMIT, description=(
        "Makes the episode reproducible; omitted: a fresh seed, reported in the state."))
    variant: StrictInt | None = Field(None, ge=0, le=MAX_VARIANT, description=(
        f"0 for the task as written, 1..{MAX_VARIANT} for a generated variant of it."))
    episode_id: StrictStr | None = Field(None, description=(
        "Id to record the episode under (omitted: a fresh one): 1-128 letters, digits and ._:@-, starting "
        "with a letter or digit. An id already recorded is refused."), json_schema_extra={
            "pattern": EPISODE_ID_PATTERN})
    split: Literal[TASK_SPLITS] | None = Field(None, description=(  # type: ignore[valid-type]
        "Select the task by Task API split and index instead of by name."))
    index: StrictInt | None = Field(None, ge=0, le=10**6, description="Index within split (default 0).")
    task_pack: StrictStr | None = Field(None, description=(
        "Name of a task pack in the server's --task-pack-dir (GET /task_packs), never a path."),
        json_schema_extra={"pattern": TASK_PACK_NAME_PATTERN})

    @field_validator("episode_id")
    @classmethod
    def _episode_id(cls, value: str | None) -> str | None:
        if value is not None and not re.match(EPISODE_ID_PATTERN, value):
            raise ValueError("must be 1-128 characters of letters, digits and ._:@-, starting with a letter or digit")
        return value

    @field_validator("task_pack")
    @classmethod
    def _pack_name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(TASK_PACK_NAME_PATTERN, value):
            raise ValueError("must be the name of a pack in the server's --task-pack-dir (letters, digits, ._-; "
                             "GET /task_packs lists them), never a path")
        return value


class StepBody(BaseModel):
    """The ``POST /step`` body (stateless HTTP: there is never an episode; use the WebSocket)."""

    model_config = ConfigDict(extra="forbid")

    action: TraceFixAction
    timeout_s: float | None = Field(None, gt=0, le=3600, description="Ignored: time limits are the sandbox's.")
    request_id: StrictStr | None = Field(None, max_length=255)


class SplitBody(BaseModel):
    """Task API request: a split, and for single tasks an index or a range."""

    model_config = ConfigDict(extra="forbid")

    split: Literal[TASK_SPLITS] = Field(description="graded, all, easy, medium or hard.")  # type: ignore[valid-type]
    index: StrictInt | None = Field(None, ge=0, le=10**6)
    start: StrictInt | None = Field(None, ge=0, le=10**6)
    stop: StrictInt | None = Field(None, ge=0, le=10**6)


def to_core_action(action: Any) -> CodeAction:
    """The core action for a wire action, a core action or a plain dict (``metadata`` dropped)."""
    if isinstance(action, CodeAction) and type(action) is CodeAction:
        return action
    data = action if isinstance(action, dict) else action.model_dump()
    data = {k: v for k, v in data.items() if k != "metadata"}
    return CodeAction.model_validate(data)


def to_wire_observation(obs: CodeObservation) -> TraceFixObservation:
    """The wire observation for a core one, with the compatibility mirror in ``metadata``."""
    meta: dict[str, Any] = {}
    if obs.final_score is not None:
        meta["final_score"] = obs.final_score
    if obs.last_action_error is not None:
        meta["last_action_error"] = obs.last_action_error
    return TraceFixObservation.model_validate({**obs.model_dump(), "metadata": meta})


def to_wire_state(state: EpisodeState) -> TraceFixState:
    """The wire state for the core episode state."""
    return TraceFixState.model_validate(state.model_dump())
