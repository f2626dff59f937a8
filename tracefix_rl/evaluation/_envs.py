"""Environment sessions for the evaluation workers: in-process or over a server's WebSocket.

Both give the synchronous OpenEnv client shape the agent loop expects (``reset(**kw)`` and
``step(action)`` return a result with ``observation``, ``reward`` and ``done``). A
:class:`Tap` wraps a session for one episode and keeps what the results need: the episode id,
the actions taken, the last observation, steps the sandbox could not score, and whether the
*environment* (not the agent) raised, which makes the episode an infrastructure error.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["EnvFailure", "LocalSession", "RemoteSession", "Session", "Tap"]


@dataclass
class _Result:
    observation: Any
    reward: float | None
    done: bool


class Session(Protocol):
    """One worker's environment: reset/step in the OpenEnv client shape, plus bookkeeping."""

    def reset(self, **kwargs: Any) -> Any: ...

    def step(self, action: Any) -> Any: ...

    def isolation(self) -> str | None: ...

    def task_hash(self) -> str | None: ...

    def finish(self, episode_id: str) -> None:
        """Called after every episode (a remote session copies its trajectory here)."""

    def close(self) -> None: ...


class LocalSession:
    """A :class:`~tracefix_rl.env.TraceFixEnvironment` in this process, recording into ``recorder``."""

    def __init__(self, recorder: Any, *, max_steps: int | None = None) -> None:
        from tracefix_rl.core.config import EnvConfig
        from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

        config = EnvConfig(max_steps=max_steps) if max_steps else EnvConfig()
        self.env = RecordEpisodes(TraceFixEnvironment(config), recorder)

    def reset(self, **kwargs: Any) -> _Result:
        obs = self.env.reset(**kwargs)
        return _Result(obs, obs.reward, obs.done)

    def step(self, action: Any) -> _Result:
        obs = self.env.step(action)
        return _Result(obs, obs.reward, obs.done)

    def isolation(self) -> str | None:
        return self.env.state.isolation

    def task_hash(self) -> str | None:
        task = self.env.task
        return task.content_hash if task is not None else None

    def finish(self, episode_id: str) -> None:
        """Nothing to do: the recorder already holds the episode."""

    def close(self) -> None:
        self.env.close()


class RemoteSession:
    """A WebSocket session with a TraceFix-RL server (``tracefix serve``).

    After each episode, :meth:`finish` fetches the server's recording
    (``GET /trajectories/{id}``) into the local ``store``, so ``DIR/trajectories.sqlite3``
    holds every episode whichever side ran it. A server that records nothing leaves the local
    store without that episode (``copied`` says how many were copied). The server must serve
    its trajectory routes (``tracefix serve --trajectory-routes``, or an API key in
    ``TRACEFIX_API_KEY``, which the session sends as the server asks).
    """

    def __init__(self, url: str, store: Any, *, message_timeout_s: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.http_url = "http" + self.url[2:] if self.url.startswith("ws") else self.url
        self.store = store
        self.timeout = message_timeout_s
        self._client: Any = None
        self._manifest: dict[str, Any] = {}
        self.copied = 0
        self.copy_errors: list[str] = []

    def _connect(self) -> Any:
        if self._client is None:
            from tracefix_rl.client import TraceFixRLEnv

            self._client = TraceFixRLEnv(base_url=self.url, message_timeout_s=self.timeout).sync()
            self._client.connect()
        return self._client

    def reset(self, **kwargs: Any) -> Any:
        self._manifest = {}
        try:
            return self._connect().reset(**kwargs)
        except Exception:
            self._drop()
            raise

    def step(self, action: Any) -> Any:
        try:
            return self._connect().step(action)
        except Exception:
            self._drop()
            raise

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: S110 - the session is being discarded anyway
                pass

    def isolation(self) -> str | None:
        return self._manifest.get("isolation")

    def task_hash(self) -> str | None:
        return self._manifest.get("task_hash")

    def finish(self, episode_id: str) -> None:
        import httpx

        from tracefix_rl.data.trajectories import normalize_record

        try:
            key = os.environ.get("TRACEFIX_API_KEY", "").split(",")[0].strip()
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            reply = httpx.get(f"{self.http_url}/trajectories/{episode_id}", timeout=30.0, headers=headers)
            if reply.status_code != 200:
                raise RuntimeError(f"GET /trajectories/{episode_id}: HTTP {reply.status_code} {reply.text[:200]}")
            record = normalize_record(reply.json())
            self._manifest = record.get("manifest") or {}
            self.store.import_record(record, replace=True)
            self.copied += 1
        except Exception as exc:  # the episode's result stands; the copy is reported as missing
            self.copy_errors.append(f"{episode_id}: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._drop()


class EnvFailure(Exception):
    """The environment raised during an episode (wraps the original; the agent is not to blame)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


class Tap:
    """One episode's view of a session: forwards reset/step and keeps the facts the results need.

    Exceptions raised by the session are re-raised as :class:`EnvFailure` and remembered in
    ``failure``, so the harness can tell an environment failure from an agent bug even when
    the agent loop swallows it.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.actions: Counter[str] = Counter()
        self.observation: Any = None
        self.episode_id: str | None = None
        self.infra_steps = 0
        self.failure: EnvFailure | None = None
        self._lock = threading.Lock()

    def reset(self, **kwargs: Any) -> Any:
        try:
            result = self.session.reset(**kwargs)
        except Exception as exc:
            self.failure = EnvFailure(exc)
            raise self.failure from exc
        self.observation = result.observation
        self.episode_id = getattr(result.observation, "episode_id", None) or kwargs.get("episode_id")
        return result

    def step(self, action: Any) -> Any:
        try:
            result = self.session.step(action)
        except Exception as exc:
            self.failure = EnvFailure(exc)
            raise self.failure from exc
        self.actions[str(action.action_type)] += 1
        self.observation = result.observation
        if getattr(result.observation, "infra_error", False):
            self.infra_steps += 1
        return result

    @property
    def done(self) -> bool:
        """Whether the episode ended (submitted or out of budget)."""
        return bool(self.observation is not None and self.observation.done)


def recorder_at(path: Path) -> Any:
    """The :class:`~tracefix_rl.data.trajectories.SQLiteRecorder` of ``DIR/trajectories.sqlite3``."""
    from tracefix_rl.data.trajectories import SQLiteRecorder

    return SQLiteRecorder(path)
