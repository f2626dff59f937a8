"""Gymnasium integration: TraceFix-RL as a ``gymnasium.Env`` with text observations and actions.

Usage::

    import gymnasium as gym
    from tracefix_rl.integrations.gymnasium import register

    register()                                           # id "TraceFix-v0"
    env = gym.make("TraceFix-v0", difficulty="easy")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step('{"action_type": "RUN_TESTS"}')

    envs = gym.make_vec("TraceFix-v0", num_envs=4, vectorization_mode="sync")

Everything but the spaces comes from :class:`~tracefix_rl.integrations.text_env.TraceFixTextEnv`
(same parsing, rendering, rewards and ``info``). Both spaces are ``gymnasium.spaces.Text`` over
:data:`CHARSET` (printable ASCII, tab, newline and the listing's ``▶`` marker). Any other
character in an observation (a program may print anything) is shown as its Python escape
(``\\u00e9``), so every observation lies in ``observation_space``. A reply of any text is a valid
action (an unusable one is answered with ``PARSE_ERROR``), so a random ``action_space.sample()``
never raises. Needs the ``gymnasium`` extra.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium
from gymnasium import spaces

from tracefix_rl.core.models import MAX_BLOCK_CHARS, MAX_THOUGHT_CHARS
from tracefix_rl.integrations.text_env import TraceFixTextEnv

__all__ = ["CHARSET", "ENV_ID", "MAX_OBSERVATION_CHARS", "TraceFixGymEnv", "register"]

ENV_ID = "TraceFix-v0"
CHARSET = "".join(sorted(set(string.printable) - set("\r\x0b\x0c") | {"▶"}))
MAX_OBSERVATION_CHARS = 1_000_000
"""Upper bound of an observation's length (the program is capped at 100,000 characters)."""
_CHARS = frozenset(CHARSET)


def _to_charset(text: str) -> str:
    if all(c in _CHARS for c in text):
        return text
    return "".join(c if c in _CHARS else c.encode("unicode_escape").decode("ascii") for c in text)


class TraceFixGymEnv(gymnasium.Env[str, str]):
    """A ``gymnasium.Env`` over :class:`TraceFixTextEnv` (see the module docstring).

    ``reset(seed=s)`` plays the episode seeded ``s``; ``reset()`` draws the next episode seed from
    ``self.np_random``, so a run is reproducible from its first seed (Gymnasium's seeding rule).
    Keyword arguments other than ``render_mode`` go to :class:`TraceFixTextEnv`.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None, **text_env: Any) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self._text = TraceFixTextEnv(**text_env)
        self.observation_space = spaces.Text(max_length=MAX_OBSERVATION_CHARS, charset=CHARSET)
        self.action_space = spaces.Text(max_length=MAX_BLOCK_CHARS + MAX_THOUGHT_CHARS + 1000, charset=CHARSET)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``options`` as :meth:`TraceFixTextEnv.reset`."""
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        text, info = self._text.reset(seed=episode_seed, options=options)
        return _to_charset(text), info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one reply; see :meth:`TraceFixTextEnv.step`."""
        text, reward, terminated, truncated, info = self._text.step(action)
        return _to_charset(text), reward, terminated, truncated, info

    def render(self) -> str | None:  # type: ignore[override]
        """The latest observation as text (``render_mode="ansi"``), else None."""
        return _to_charset(self._text.render()) if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Close the underlying session. Idempotent."""
        self._text.close()


def register(env_id: str = ENV_ID, **kwargs: Any) -> str:
    """Register :class:`TraceFixGymEnv` with Gymnasium under ``env_id`` (idempotent); returns the id.

    ``kwargs`` become the id's default constructor arguments (``gym.make`` can override them).
    """
    if env_id not in gymnasium.registry:
        gymnasium.register(id=env_id, entry_point=f"{__name__}:TraceFixGymEnv", kwargs=kwargs)
    return env_id
