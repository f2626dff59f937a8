"""The trajectory schema: what the environment hands a recorder, and the observation digest.

:class:`StepRecord` is everything about one step; a :class:`Recorder` receives every episode's
manifest and steps (the SQLite store in :mod:`tracefix_rl.data.trajectories` is the standard
one, applied by :class:`~tracefix_rl.env.RecordEpisodes`); :func:`observation_hash` is what
verified replay compares.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracefix_rl.core.models import CodeObservation

__all__ = ["Recorder", "StepRecord", "observation_hash"]


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def observation_hash(obs: CodeObservation | dict[str, Any]) -> str:
    """SHA-256 of everything the agent sees, minus the episode id and wall-clock timings.

    Two runs of the same actions on the same task and seed give the same hashes: this is what
    replay verification compares. ``obs`` may also be the observation's
    ``model_dump(mode="json")`` (not modified), so a recorder dumps an observation only once.
    """
    data = obs if isinstance(obs, dict) else obs.model_dump(mode="json")
    hashed = {k: v for k, v in data.items() if k != "episode_id"}
    if hashed.get("test_results"):
        hashed["test_results"] = [{f: v for f, v in r.items() if f != "duration_ms"} for r in hashed["test_results"]]
    return hashlib.sha256(_CANONICAL.encode(hashed).encode()).hexdigest()


@dataclass
class StepRecord:
    """Everything about one step, handed to the :class:`Recorder` before ``step`` returns."""

    episode_id: str
    step: int
    action: dict[str, Any]
    observation: CodeObservation
    observation_hash: str
    reward: float
    reward_breakdown: dict[str, float]
    cumulative_reward: float
    done: bool
    error: str | None
    diff: str
    code_before: str
    code_after: str
    pass_rate: float | None
    test_results: list[dict[str, Any]]
    duration_ms: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``observation.model_dump(mode="json")`` when the environment already made it (recorders
    #: reuse it instead of dumping again; never modify it), else ``None``.
    observation_json: dict[str, Any] | None = None


class Recorder(Protocol):
    """Receives every episode's manifest and steps (see :mod:`tracefix_rl.data.trajectories`).

    ``record_step`` must make the step durable before returning: the environment returns the
    observation only afterwards. If ``start_episode`` or ``record_step`` raises, the environment
    undoes the reset or the step as a whole. A recorder may also have
    ``release_episode(episode_id)``: the environment calls it when it abandons an unfinished
    episode (a new reset, ``close``), so the recorder can drop what it keeps about it.
    """

    def start_episode(self, manifest: dict[str, Any], observation: CodeObservation) -> None: ...

    def record_step(self, record: StepRecord) -> None: ...

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None: ...
