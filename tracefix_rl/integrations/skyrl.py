"""SkyRL integration: TraceFix-RL as a SkyRL-gym ``BaseTextEnv`` registered under an id.

Usage (in the Ray entrypoint, before training starts)::

    from tracefix_rl.integrations.skyrl import register, skyrl_rows

    register()                                   # env_class "tracefix"
    rows = skyrl_rows(tiers=["easy"], seeds=range(8))   # write them to the training parquet

SkyRL's generator then builds one environment per trajectory with
``skyrl_gym.make("tracefix", env_config=..., extras=row)``, calls ``init(row["prompt"])`` and
``step(reply)`` until ``done``. The row's ``extra_info`` names the episode
(``task_name``/``seed``/``variant``/``difficulty``/``task_pack``) and may set ``max_turns``;
``env_config`` may hold :class:`~tracefix_rl.integrations.text_env.TraceFixTextEnv` settings
(``base_url``, ``record``, ``db``, ``output_chars``, ``max_parse_errors``) and ``reward``.

Rewards: with ``reward="final_score"`` (the default) every turn earns 0.0 except the last, which
earns the environment's final score (SkyRL's ``pass_at_n`` reads the last turn); with
``reward="step"`` each turn earns the environment's step reward. When ``max_turns`` runs out
before the model submits, the last turn submits for it, so the environment grades the program.
Needs the ``skyrl`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType

from tracefix_rl.agents.llm import SYSTEM_PROMPT
from tracefix_rl.integrations._selection import episode_rows
from tracefix_rl.integrations.text_env import TraceFixTextEnv

__all__ = ["ENV_ID", "TraceFixSkyRLEnv", "register", "skyrl_rows"]

ENV_ID = "tracefix"
_TEXT_ENV_SETTINGS = ("base_url", "record", "db", "output_chars", "max_parse_errors", "message_timeout_s")
_EPISODE_KEYS = ("task_name", "difficulty", "variant", "task_pack")
_SUBMIT = '{"action_type": "SUBMIT", "thought": "Out of turns."}'


class TraceFixSkyRLEnv(BaseTextEnv):
    """One TraceFix-RL episode for SkyRL (see the module docstring)."""

    def __init__(self, env_config: Any = None, extras: dict[str, Any] | None = None) -> None:
        super().__init__()
        config = dict(env_config or {})
        extras = dict(extras or {})
        info = dict(extras.get("extra_info") or {})
        self.reward_mode = str(config.get("reward", "final_score"))
        if self.reward_mode not in ("final_score", "step"):
            raise ValueError(f"reward must be 'final_score' or 'step', got {self.reward_mode!r}")
        self.max_turns = int(extras.get("max_turns") or info.get("max_turns") or 50)
        self._seed = info.get("seed")
        self._options = {k: info[k] for k in _EPISODE_KEYS if info.get(k) is not None}
        self._text = TraceFixTextEnv(**{k: config[k] for k in _TEXT_ENV_SETTINGS if k in config})
        self._last: dict[str, Any] = {}

    def init(self, prompt: ConversationType) -> tuple[ConversationType, dict[str, Any]]:
        """Start the episode; the first observation joins the prompt's last user turn (or a new one)."""
        text, info = self._text.reset(seed=self._seed, options=self._options)
        messages = [dict(m) for m in prompt] or [{"role": "system", "content": SYSTEM_PROMPT}]
        if messages[-1].get("role") == "user":
            messages[-1]["content"] = f"{messages[-1]['content']}\n\n{text}"
        else:
            messages.append({"role": "user", "content": text})
        return messages, info

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Apply one reply; the next observation comes back as a user message."""
        self.turns += 1
        text, reward, terminated, truncated, info = self._text.step(action)
        done = terminated or truncated
        if not done and self.turns >= self.max_turns:
            text, last, terminated, truncated, info = self._text.step(_SUBMIT)
            reward, done = reward + last, True
        if self.reward_mode == "final_score":
            reward = float(info.get("final_score") or 0.0) if done else 0.0
        self._last = info
        observations = [] if done else [{"role": "user", "content": text}]
        return BaseTextEnvStepOutput(observations=observations, reward=reward, done=done, metadata=info)

    def get_metrics(self) -> dict[str, Any]:
        """Per-episode metrics: final score, resolved (0/1) and turns."""
        return {"final_score": float(self._last.get("final_score") or 0.0),
                "resolved": 1.0 if self._last.get("resolved") else 0.0, "turns": self.turns}

    def close(self) -> None:
        """Close the session. Idempotent."""
        self._text.close()


def register(env_id: str = ENV_ID) -> str:
    """Register :class:`TraceFixSkyRLEnv` with ``skyrl_gym`` under ``env_id`` (idempotent); returns the id."""
    import skyrl_gym

    if env_id not in skyrl_gym.registry:
        skyrl_gym.register(id=env_id, entry_point=f"{__name__}:TraceFixSkyRLEnv")
    return env_id


def skyrl_rows(*, tasks: Sequence[str] | None = None, tiers: Sequence[str] | None = None,
               task_pack: str | None = None, variants: Iterable[int] = (0,), seeds: Iterable[int] = (0,),
               env_class: str = ENV_ID, max_turns: int = 50) -> list[dict[str, Any]]:
    """SkyRL dataset rows (``data_source``, ``prompt``, ``env_class``, ``reward_spec``,
    ``extra_info``), one per (task, variant, seed); selection as
    :func:`tracefix_rl.integrations.trl.make_dataset`."""
    rows = episode_rows(tasks=tasks, tiers=tiers, task_pack=task_pack, variants=variants, seeds=seeds)
    return [{"data_source": "tracefix_rl", "prompt": [{"role": "system", "content": SYSTEM_PROMPT}],
             "env_class": env_class, "reward_spec": {"method": "rule", "ground_truth": None},
             "extra_info": {**row, "max_turns": max_turns}} for row in rows]
