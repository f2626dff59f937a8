"""Wire models: the core models re-based on OpenEnv's ``Action``/``Observation``/``State``.

Each wire class inherits the core model first (its fields, descriptions and validators) and the
OpenEnv base second (``metadata``, and the base type ``create_app`` and ``EnvClient`` require).
No logic lives here: conversions are ``model_validate`` over the dumped core model.
"""

from __future__ import annotations

from typing import Any

from openenv.core.env_server.types import Action, Observation, State
from pydantic import ConfigDict

from tracefix_rl.models import CodeAction, CodeObservation, EpisodeState

__all__ = [
    "TraceFixAction",
    "TraceFixObservation",
    "TraceFixState",
    "to_core_action",
    "to_wire_observation",
    "to_wire_state",
]


class TraceFixAction(CodeAction, Action):
    """A :class:`~tracefix_rl.models.CodeAction` as OpenEnv sees it (unknown fields are rejected)."""

    model_config = ConfigDict(extra="forbid")


class TraceFixObservation(CodeObservation, Observation):
    """A :class:`~tracefix_rl.models.CodeObservation` plus OpenEnv's ``metadata``.

    Everything a client needs is a typed field. ``metadata`` only mirrors ``final_score`` and
    ``last_action_error`` for older clients (the original baseline script reads them there).
    """

    model_config = ConfigDict(extra="forbid")


class TraceFixState(EpisodeState, State):
    """The episode bookkeeping (:class:`~tracefix_rl.models.EpisodeState`) as ``/state`` publishes it."""

    model_config = ConfigDict(extra="allow")


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
