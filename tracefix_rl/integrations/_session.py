"""Where an integration's episodes run: in this process, or on a TraceFix-RL server.

:func:`open_session` returns an :class:`EpisodeSession`; the adapters call only ``reset``,
``step`` and ``close`` on it and never care which kind it is.

* In-process: one :class:`~tracefix_rl.env.TraceFixEnvironment`, reused across resets. With
  ``record=True`` every episode goes to the trajectory store at ``db`` (one recorder per file
  and process, shared by every environment), or to the default store (``$TRACEFIX_DB``) when
  ``db`` is None.
* On a pool (:mod:`tracefix_rl.integrations.pool`: Ray hosts or sharded servers): a fresh pool
  session per reset, closed when the episode ends; the pool's hosts record the episodes.
* Remote: a **fresh WebSocket session per reset** (the previous one is closed first), because
  trainers keep environment objects for a whole run while the server reaps sessions idle for
  longer than its timeout. The server records the episodes into its own store. The session is
  also closed as soon as an episode ends, to free the server's capacity.
"""

from __future__ import annotations

from typing import Any, Protocol

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.models import CodeAction, CodeObservation

__all__ = ["EpisodeSession", "open_session"]


class EpisodeSession(Protocol):
    """One episode at a time: ``reset`` starts one, ``step`` advances it."""

    def reset(self, **kwargs: Any) -> CodeObservation: ...

    def step(self, action: CodeAction) -> CodeObservation: ...

    def seed_and_variant(self) -> tuple[int | None, int | None]:
        """The current episode's seed and variant (the seed is drawn by the environment if reset had none)."""
        ...

    def close(self) -> None: ...


class _LocalSession:
    def __init__(self, env_config: EnvConfig | None, record: bool, db: str | None) -> None:
        from tracefix_rl.env import make_env

        self._env = make_env(config=env_config, record=(db or True) if record else False)

    def reset(self, **kwargs: Any) -> CodeObservation:
        return self._env.reset(**kwargs)

    def step(self, action: CodeAction) -> CodeObservation:
        return self._env.step(action)

    def seed_and_variant(self) -> tuple[int | None, int | None]:
        state = self._env.state
        return state.seed, state.variant

    def close(self) -> None:
        self._env.close()


class _RemoteSession:
    def __init__(self, base_url: str, message_timeout_s: float) -> None:
        self._url = base_url
        self._timeout = message_timeout_s
        self._client: Any = None
        self._identity: tuple[int | None, int | None] = (None, None)

    def reset(self, **kwargs: Any) -> CodeObservation:
        from tracefix_rl.client import TraceFixRLEnv

        self.close()
        client = TraceFixRLEnv(base_url=self._url, message_timeout_s=self._timeout).sync()
        try:
            client.connect()
            obs = client.reset(**kwargs).observation
        except BaseException:
            _quiet_close(client)
            raise
        self._client = client
        state = client.state()
        self._identity = (state.seed, state.variant)
        return obs

    def step(self, action: CodeAction) -> CodeObservation:
        if self._client is None:
            from tracefix_rl.core.errors import ResetNeededError

            raise ResetNeededError("no open session: call reset() first")
        obs: CodeObservation = self._client.step(action).observation
        if obs.done:
            self.close()
        return obs

    def seed_and_variant(self) -> tuple[int | None, int | None]:
        return self._identity

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _quiet_close(client)

    def __del__(self) -> None:
        self.close()


def _quiet_close(client: Any) -> None:
    try:
        client.close()
    except Exception:  # a dead socket or a stopped loop: nothing left to release
        pass


def open_session(*, base_url: str | None = None, env_config: EnvConfig | None = None, record: bool = True,
                 db: str | None = None, message_timeout_s: float = 120.0, pool: Any = None) -> EpisodeSession:
    """An in-process session, a remote one when ``base_url`` is given, or one on ``pool``
    (see the module docstring).

    Raises:
        ValueError: ``env_config`` or ``db`` with ``base_url`` or ``pool`` (the server or hosts own both).
    """
    if pool is not None:
        if base_url is not None or env_config is not None or db is not None:
            raise ValueError("pool runs the episodes on its hosts: base_url, env_config and db do not apply")
        from tracefix_rl.integrations.pool import PoolSession

        return PoolSession(pool)
    if base_url is not None:
        if env_config is not None or db is not None:
            raise ValueError("env_config and db configure an in-process environment; with base_url the "
                             "server's own settings and trajectory store apply")
        return _RemoteSession(base_url, message_timeout_s)
    return _LocalSession(env_config, record, db)
