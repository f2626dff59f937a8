"""Sessions spread over several plain ``tracefix serve`` processes, without Ray: :class:`ShardedClient`.

A pool like :class:`~tracefix_rl.integrations.ray.TraceFixRayPool` (the same ``open`` /
``reset`` / ``step`` / ``run_episodes`` / ``trl_factory`` contract), whose hosts are servers
reached with :class:`~tracefix_rl.client.TraceFixRLEnv`. Needs the ``server`` extra, not Ray.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tracefix_rl.core.errors import (
    EpisodeIdInUseError,
    PoolError,
    ResetArgumentError,
    SessionClosedError,
    SessionLostError,
    UnknownArgumentError,
)
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.integrations._host import parse_session_id
from tracefix_rl.integrations.pool import EpisodeOutcome, Policy, run_episodes

__all__ = ["ShardedClient"]

_SERVER_ERROR = re.compile(r"^Server error: (?P<message>.*) \(code: (?P<code>[A-Z_]+)\)$", re.S)
_FIELD = re.compile(r"^(?:reset argument '(?P<named>[^']+)': |invalid reset data: (?P<model>[\w.]+): )")


class _Open:
    __slots__ = ("client", "lock")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()


class ShardedClient:
    """A pool of sessions over several TraceFix-RL servers (one per CPU node, say).

    The :class:`~tracefix_rl.integrations.pool.EnvPool` contract, over WebSockets: ``open``
    connects a new session to the server with the fewest open sessions (skipping for
    ``retry_after_s`` a server that just failed), and the session stays there. ``reset`` and
    ``step`` return the server's :class:`~tracefix_rl.core.models.CodeObservation`; a refused reset
    raises :class:`~tracefix_rl.core.errors.ResetArgumentError` naming the field (as the server names
    it), a reaped session :class:`~tracefix_rl.core.errors.SessionClosedError`, and a server that
    dies or drops the connection :class:`~tracefix_rl.core.errors.SessionLostError` naming it. Each
    server records its own episodes; :meth:`episode_record` fetches one
    (``GET /trajectories/{id}``: the server needs an API key or ``--trajectory-routes``).

    The client pickles by its settings (open sessions stay behind), so
    :meth:`trl_factory` can be sent to a rollout process. Give each server ``--max-sessions``
    of at least the sessions you expect on it.

    Args:
        urls: the servers (``http://host:port``).
        api_key: sent to every server (default ``$TRACEFIX_API_KEY``).
        message_timeout_s: how long to wait for one reply.
        retry_after_s: how long new sessions avoid a server that failed.
    """

    def __init__(self, urls: Sequence[str], *, api_key: str | None = None, message_timeout_s: float = 120.0,
                 retry_after_s: float = 5.0) -> None:
        cleaned = [u.rstrip("/") for u in urls if u and u.strip()]
        if not cleaned:
            raise ValueError("ShardedClient needs at least one server URL")
        self.urls = cleaned
        self.api_key = api_key
        self.message_timeout_s = message_timeout_s
        self.retry_after_s = retry_after_s
        self._setup()

    def _setup(self) -> None:
        self._token = uuid.uuid4().hex[:10]
        self._counter = 0
        self._open: dict[str, _Open] = {}
        self._load = [0] * len(self.urls)
        self._down_until = [0.0] * len(self.urls)
        self._facts: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- the EnvPool interface --------------------------------------------------------------------

    def open(self) -> str:
        """Connect a session to the least-loaded live server; returns its id."""
        from tracefix_rl.client import TraceFixRLEnv

        now = time.monotonic()
        with self._lock:
            order = sorted(range(len(self.urls)), key=lambda i: (self._down_until[i] > now, self._load[i], i))
        errors = []
        for index in order:
            try:
                client = TraceFixRLEnv(base_url=self.urls[index], api_key=self.api_key,
                                       message_timeout_s=self.message_timeout_s).sync()
                client.connect()
            except Exception as exc:
                self._mark_down(index)
                errors.append(f"{self.urls[index]}: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self._counter += 1
                sid = f"{index}-{self._token}-{self._counter}"
                self._open[sid] = _Open(client)
                self._load[index] += 1
            return sid
        raise PoolError("no server could open a session: " + "; ".join(errors))

    def reset(self, session_id: str, **kwargs: Any) -> CodeObservation:
        """Reset the session's episode on its server."""
        index, session = self._session(session_id)
        with session.lock:
            obs = self._call(session_id, index, lambda: session.client.reset(**kwargs).observation)
            state = self._call(session_id, index, session.client.state)
        facts = {"seed": state.seed, "variant": state.variant, "episode_id": state.episode_id,
                 "host": self.urls[index], "isolation": state.isolation or None, "task_hash": None}
        with self._lock:
            self._facts[session_id] = facts
        return _core(obs)

    def step(self, session_id: str, action: CodeAction) -> CodeObservation:
        """Apply one action on the session's server."""
        index, session = self._session(session_id)
        with session.lock:
            return _core(self._call(session_id, index, lambda: session.client.step(action).observation))

    async def areset(self, session_id: str, **kwargs: Any) -> CodeObservation:
        """:meth:`reset` for asyncio code (runs in a thread)."""
        return await asyncio.to_thread(lambda: self.reset(session_id, **kwargs))

    async def astep(self, session_id: str, action: CodeAction) -> CodeObservation:
        """:meth:`step` for asyncio code (runs in a thread)."""
        return await asyncio.to_thread(self.step, session_id, action)

    def close(self, session_id: str) -> None:
        """Close the session's WebSocket (idempotent)."""
        index, _ = parse_session_id(session_id)
        with self._lock:
            session = self._open.pop(session_id, None)
            if session is not None:
                self._load[index] = max(0, self._load[index] - 1)
        if session is not None:
            try:
                session.client.close()
            except Exception:  # noqa: S110 - a dead socket has nothing left to release
                pass

    def describe(self, session_id: str) -> dict[str, Any]:
        """What the session's last reset started (``host`` is the server's URL)."""
        index, _ = parse_session_id(session_id)
        with self._lock:
            facts = self._facts.get(session_id)
        return dict(facts) if facts else {"host": self.urls[index] if index < len(self.urls) else None}

    def episode_record(self, session_id: str, episode_id: str) -> dict[str, Any] | None:
        """The episode as recorded by the session's server (``GET /trajectories/{id}``)."""
        from tracefix_rl.client import fetch_episode_record

        index, _ = parse_session_id(session_id)
        return fetch_episode_record(self.urls[index], episode_id, api_key=self.api_key)

    # -- evaluation and training ------------------------------------------------------------------

    def run_episodes(self, policy: Policy | Callable[[dict[str, Any]], Policy],
                     tasks: Iterable[str | Mapping[str, Any]], *, seeds: Sequence[int] | None = (0,),
                     concurrency: int | None = None, retries: int = 0, max_actions: int = 1000) -> list[EpisodeOutcome]:
        """Play ``policy`` on every task and seed (:func:`~tracefix_rl.integrations.pool.run_episodes`);
        ``concurrency`` defaults to 8 episodes in flight per server."""
        return run_episodes(self, policy, tasks, seeds=seeds, concurrency=concurrency or 8 * len(self.urls),
                            retries=retries, max_actions=max_actions)

    def trl_factory(self, **config: Any) -> Any:
        """A picklable TRL ``environment_factory`` whose instances play on these servers."""
        from tracefix_rl.integrations.trl import make_env_factory

        return make_env_factory(pool=self, **config)

    def describe_pool(self) -> dict[str, Any]:
        """The client's settings, for reports."""
        return {"kind": "sharded", "servers": list(self.urls)}

    def shutdown(self) -> None:
        """Close every open session. Idempotent."""
        for sid in list(self._open):
            self.close(sid)

    def __enter__(self) -> ShardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in ("urls", "api_key", "message_timeout_s", "retry_after_s")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def __repr__(self) -> str:
        return f"<ShardedClient servers={self.urls}>"

    # -- helpers ----------------------------------------------------------------------------------

    def _session(self, session_id: str) -> tuple[int, _Open]:
        index, token = parse_session_id(session_id)
        with self._lock:
            session = self._open.get(session_id)
        if session is None:
            if token == self._token:
                raise SessionClosedError(f"session {session_id} is closed (or was lost); open a new one")
            raise SessionClosedError(f"session {session_id} was not opened by this client (a pickled copy "
                                     "starts without sessions); open a new one")
        return index, session

    def _mark_down(self, index: int) -> None:
        with self._lock:
            self._down_until[index] = time.monotonic() + self.retry_after_s

    def _call(self, session_id: str, index: int, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except RuntimeError as exc:
            match = _SERVER_ERROR.match(str(exc))
            if match is None:
                raise self._lost(session_id, index, exc) from None
            code, message = match["code"], match["message"]
            if code == "EPISODE_ID_IN_USE":
                raise EpisodeIdInUseError("episode_id", message) from None
            if code == "VALIDATION_ERROR":  # the server names the field first, as the environment does
                field = _FIELD.match(message)
                name, detail = (field["named"] or field["model"], message[field.end():]) if field else ("reset", message)
                if detail.startswith("unknown field"):
                    raise UnknownArgumentError(name, detail) from None
                raise ResetArgumentError(name, detail) from None
            if code == "SESSION_CLOSED":
                self.close(session_id)
                raise SessionClosedError(f"{self.urls[index]} closed session {session_id}: {message}") from None
            raise PoolError(f"{self.urls[index]} refused the request ({code}): {message}") from None
        except Exception as exc:
            raise self._lost(session_id, index, exc) from None

    def _lost(self, session_id: str, index: int, exc: BaseException) -> SessionLostError:
        self._mark_down(index)
        self.close(session_id)
        return SessionLostError(f"session {session_id} was lost: the connection to {self.urls[index]} failed "
                                f"({type(exc).__name__}: {exc}); its unfinished episode is gone, the steps it "
                                "returned are recorded by that server; open a new session",
                                session_id=session_id, host=self.urls[index])


def _core(obs: Any) -> CodeObservation:
    """The wire observation as the core model (what an in-process environment returns)."""
    data = obs.model_dump()
    data.pop("metadata", None)
    return CodeObservation.model_validate(data)
