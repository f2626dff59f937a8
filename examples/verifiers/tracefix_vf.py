"""verifiers (>= 0.4) taskset for TraceFix-RL: verifiers' own OpenEnv taskset, scored by the final score.

verifiers' built-in ``openenv`` taskset already drives a TraceFix-RL server with no glue: it reads
``/schema``, resets with each ``resets`` entry, shows the model the observation and the action
schema, sends the model's JSON reply as the action and steps until ``done``. It scores a rollout
by the *sum* of the step rewards (``openenv_reward``). This module keeps all of that and changes
only the score: after each rollout it reads the episode's record from the server
(``GET /trajectories/{episode_id}``) and records

* ``final_score`` (weight 1): TraceFix-RL's final score, the number the environment grades by;
* ``openenv_reward`` (weight 0): the step-reward sum, kept as a metric-like reward;
* metric ``resolved``: 1.0 if every visible and hidden test passed, else 0.0.

It imports only verifiers and httpx, so it installs into a verifiers virtualenv (verifiers pins
``mcp`` 2.0, which TraceFix-RL's server extra cannot share a virtualenv with)::

    pip install -e examples/verifiers          # into the verifiers venv
    vf-eval @ examples/verifiers/tracefix.toml
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from verifiers.v1.tasksets.openenv import OpenEnvEnv, OpenEnvTaskset

__all__ = ["TraceFixEnv", "TraceFixTaskset"]


class TraceFixTaskset(OpenEnvTaskset):
    """One task per ``resets`` entry (``task_name``, ``seed``, ``variant``, ``difficulty``)."""


def _episode_id(trace: Any) -> str:
    for message in trace.messages:
        if message.role == "user" and isinstance(message.content, str):
            return str(json.loads(message.content)["observation"]["episode_id"])
    raise ValueError("the rollout has no first observation to take the episode id from")


class TraceFixEnv(OpenEnvEnv):
    """verifiers' OpenEnv episode loop, with the TraceFix-RL final score as the reward."""

    async def finalize(self, task: Any, episode: Any) -> None:
        base_url = str(task.data.base_url).rstrip("/")
        async with httpx.AsyncClient(timeout=30) as http:
            for trace in episode.traces:
                episode_id = _episode_id(trace)
                response = await http.get(f"{base_url}/trajectories/{episode_id}")
                response.raise_for_status()
                record = response.json()
                steps = record.get("steps") or []
                resolved = bool(steps and (steps[-1].get("snapshot") or {}).get("resolved"))
                summed = trace.rewards.get("openenv_reward")
                trace.record_reward("openenv_reward", summed.score if summed else 0.0, weight=0.0)
                trace.record_reward("final_score", float(record.get("final_score") or 0.0))
                trace.record_metric("resolved", 1.0 if resolved else 0.0)
                trace.info["tracefix_episode_id"] = episode_id
