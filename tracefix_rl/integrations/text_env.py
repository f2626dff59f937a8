"""One text-in/text-out TraceFix-RL episode: the adapter the framework integrations share.

:class:`TraceFixTextEnv` has the gem/Gymnasium shape LLM-RL frameworks consume::

    env = TraceFixTextEnv(difficulty="easy")
    text, info = env.reset(seed=0)                       # the first observation, as the model reads it
    text, reward, terminated, truncated, info = env.step('{"action_type": "RUN_TESTS"}')

The model's reply is parsed exactly as ``inference.py`` parses it
(:func:`tracefix_rl.agents.llm.parse_action`: the first JSON object, code fences and prose
tolerated, then the :class:`~tracefix_rl.core.models.CodeAction` schema), and observations are rendered
exactly as ``inference.py`` shows them (:func:`tracefix_rl.agents.llm.observation_text`), so the
system prompt :data:`~tracefix_rl.agents.llm.SYSTEM_PROMPT` describes this interface too. The
Gymnasium and SkyRL adapters are thin layers over this class.
"""

from __future__ import annotations

import functools
from typing import Any

from tracefix_rl.agents.llm import (
    AgentConfig,
    ModelParseError,
    observation_text,
    parse_action,
    parse_error_feedback,
)
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import EpisodeError, ResetNeededError
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.integrations._session import EpisodeSession, open_session

__all__ = ["RESET_OPTIONS", "TraceFixTextEnv"]

RESET_OPTIONS = ("task_name", "difficulty", "variant", "task_pack", "episode_id")
"""Keys ``reset(options=...)`` accepts; each overrides the constructor's default for one episode."""


class TraceFixTextEnv:
    """A TraceFix-RL episode whose actions and observations are text.

    Contract:

    * ``reset(seed=None, options=None) -> (text, info)``. The same ``seed`` and options always give
      the same episode; with ``seed=None`` the environment draws the next seed (reported in
      ``info["seed"]``). ``options`` may set :data:`RESET_OPTIONS`.
    * ``step(action) -> (text, reward, terminated, truncated, info)``. ``action`` is the model's
      reply. A reply that is not a valid action is not sent to the environment: the observation
      is ``PARSE_ERROR: ...`` plus the current state, the reward 0.0, and ``info["parse_error"]``
      says what was wrong; after ``max_parse_errors`` such replies in a row the episode is
      submitted (graded by the environment), as ``inference.py`` does. Otherwise ``reward`` is the
      environment's step reward (its terms in ``info["reward_breakdown"]``).
    * ``terminated`` is true when the episode was submitted, ``truncated`` when the step budget ran
      out; then ``info`` has ``final_score`` and ``resolved``. ``step`` after either, or before the
      first ``reset``, raises :class:`~tracefix_rl.core.errors.EpisodeError`.
    * Step infos hold only values determined by the episode (the episode id is in the reset
      info), so equal seeds and actions give equal infos.

    Args:
        task_name, difficulty, variant, task_pack: default ``reset`` arguments (see
            :meth:`~tracefix_rl.env.TraceFixEnvironment.reset`).
        base_url: a TraceFix-RL server to run episodes on (a fresh session per reset).
        env_config, record, db: the in-process environment's settings and trajectory store.
        output_chars: longest tool output shown in an observation.
        max_parse_errors: unusable replies in a row before the episode is submitted.
    """

    def __init__(self, *, task_name: str | None = None, difficulty: str | None = None, variant: int | None = None,
                 task_pack: str | None = None, base_url: str | None = None, env_config: EnvConfig | None = None,
                 record: bool = True, db: str | None = None, output_chars: int = AgentConfig.output_chars,
                 max_parse_errors: int = AgentConfig.max_parse_errors, message_timeout_s: float = 120.0) -> None:
        if max_parse_errors < 1:
            raise ValueError(f"max_parse_errors must be >= 1, got {max_parse_errors}")
        self._defaults = {"task_name": task_name, "difficulty": difficulty, "variant": variant,
                          "task_pack": task_pack}
        self._open = functools.partial(open_session, base_url=base_url, env_config=env_config, record=record,
                                       db=db, message_timeout_s=message_timeout_s)
        self._view = AgentConfig(output_chars=output_chars)
        self.max_parse_errors = max_parse_errors
        self._session: EpisodeSession | None = None
        self._obs: CodeObservation | None = None
        self._parse_errors = 0

    @property
    def observation(self) -> CodeObservation | None:
        """The latest typed observation (None before the first ``reset``)."""
        return self._obs

    def render(self) -> str:
        """The latest observation as the model reads it."""
        if self._obs is None:
            raise ResetNeededError("call reset() first")
        return observation_text(self._obs, self._view)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode (see the class contract)."""
        unknown = sorted(set(options or {}) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(unknown)}; accepted: {', '.join(RESET_OPTIONS)}")
        if self._session is None:
            self._session = self._open()
        kwargs = {k: v for k, v in {**self._defaults, **(options or {})}.items() if v is not None}
        self._obs = self._session.reset(seed=seed, **kwargs)
        self._parse_errors = 0
        obs = self._obs
        seed_used, variant = self._session.seed_and_variant()
        info = {"episode_id": obs.episode_id, "task_name": obs.task_name, "difficulty": obs.difficulty,
                "seed": seed_used, "variant": variant}
        return self.render(), info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply the model's reply (see the class contract)."""
        if self._session is None or self._obs is None:
            raise ResetNeededError("call reset() before step()")
        if self._obs.done:
            raise EpisodeError("the episode is over; call reset()")
        try:
            parsed = parse_action(action)
        except ModelParseError as exc:
            self._parse_errors += 1
            if self._parse_errors < self.max_parse_errors:
                feedback = parse_error_feedback(exc) + "\n\n" + self.render()
                return feedback, 0.0, False, False, {"parse_error": str(exc), "step_count": self._obs.step_count}
            parsed = CodeAction(thought="Submitted after repeated unusable replies.", action_type="SUBMIT")
            note: str | None = f"{exc} (reply {self._parse_errors} in a row; the episode was submitted)"
        else:
            note = None
        self._parse_errors = 0
        obs = self._obs = self._session.step(parsed)
        info: dict[str, Any] = {"step_count": obs.step_count, "action_type": parsed.action_type,
                                "reward_breakdown": dict(obs.reward_breakdown),
                                "last_action_error": obs.last_action_error}
        if note:
            info["parse_error"] = note
        if obs.done:
            info.update(final_score=obs.final_score, resolved=obs.resolved, end_reason=obs.end_reason)
        terminated = obs.done and obs.end_reason == "submitted"
        truncated = obs.done and not terminated
        return self.render(), float(obs.reward or 0.0), terminated, truncated, info

    def close(self) -> None:
        """Close the session (a remote one is disconnected). Idempotent."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> TraceFixTextEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
