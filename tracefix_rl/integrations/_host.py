"""One process hosting many environment sessions on one sandbox pool: :class:`EnvHost`.

The pool's unit of placement (a Ray actor in :mod:`tracefix_rl.integrations.ray`), written as a
plain class so it runs and is tested the same with or without Ray. It imports nothing heavy.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import PoolError, SessionClosedError, SessionLostError
from tracefix_rl.core.models import CodeAction, CodeObservation

__all__ = ["EnvHost", "parse_session_id"]


def parse_session_id(session_id: object) -> tuple[int, str]:
    """``(host index, host incarnation)`` of a session id ``"<index>-<incarnation>-<n>"``.

    Raises:
        SessionClosedError: ``session_id`` is not a session id of a pool.
    """
    parts = session_id.split("-") if isinstance(session_id, str) else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1] or not parts[2].isdigit():
        raise SessionClosedError(f"{session_id!r} is not a pool session id (expected '<host>-<incarnation>-<n>', "
                                 "as returned by open())")
    return int(parts[0]), parts[1]


class _Session:
    __slots__ = ("env", "lock", "used")

    def __init__(self, env: Any) -> None:
        self.env = env
        self.lock = threading.Lock()
        self.used = time.monotonic()


class EnvHost:
    """Hosts many sessions (one :class:`~tracefix_rl.env.TraceFixEnvironment` each) in this process.

    Contract:

    * Every session shares this process's sandbox pool (``sandbox_workers`` fork-servers) and,
      with ``db_path``, one trajectory store file that only this host writes.
    * Session ids name the host and its **incarnation** (a fresh id per process start): a
      call for a session of an earlier incarnation (the host died and was restarted) raises
      :class:`~tracefix_rl.core.errors.SessionLostError`; an unknown or closed session of this
      incarnation raises :class:`~tracefix_rl.core.errors.SessionClosedError`.
    * Calls for one session are applied one at a time (a per-session lock); different sessions
      run concurrently (the actor is threaded).
    * ``db_path`` is absolute, or relative to the directory of this machine's default trajectory
      store (``$TRACEFIX_DB``'s), so one setting places every host's file on its own node.
    * ``reset`` and ``step`` behave exactly as the environment's (same observations, same
      exceptions); sessions idle for ``session_timeout_s`` are closed when a new one opens, and
      at most ``max_sessions`` are open at once (``open`` raises :class:`~tracefix_rl.core.errors.PoolError`).
    """

    def __init__(self, *, index: int = 0, env_config: EnvConfig | None = None, db_path: str | None = None,
                 sandbox_workers: int | None = None, max_sessions: int = 4096,
                 session_timeout_s: float = 3600.0) -> None:
        from tracefix_rl.engines.sandbox import get_sandbox

        self.index = index
        self.incarnation = uuid.uuid4().hex[:10]
        self.config = env_config or EnvConfig()
        self.sandbox = get_sandbox(workers=sandbox_workers)
        self.db_path = _store_path(db_path) if db_path else None
        self.recorder: Any = None
        if self.db_path:
            from tracefix_rl.data.trajectories import SQLiteRecorder

            self.recorder = SQLiteRecorder(self.db_path)
        self.max_sessions = max_sessions
        self.session_timeout_s = session_timeout_s
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._steps = 0
        self._resets = 0

    # -- sessions ---------------------------------------------------------------------------------

    def open(self) -> str:
        """Open a session; returns its id."""
        from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

        self._reap()
        env: Any = TraceFixEnvironment(self.config, sandbox=self.sandbox)
        if self.recorder is not None:
            env = RecordEpisodes(env, self.recorder)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                raise PoolError(f"host {self.index} is full: {len(self._sessions)} sessions open "
                                f"(max_sessions={self.max_sessions}); close sessions or add hosts")
            self._counter += 1
            sid = f"{self.index}-{self.incarnation}-{self._counter}"
            self._sessions[sid] = _Session(env)
        return sid

    def reset(self, session_id: str, kwargs: dict[str, Any]) -> tuple[CodeObservation, dict[str, Any]]:
        """Reset the session's environment; returns the observation and :meth:`describe`'s facts."""
        session = self._session(session_id)
        with session.lock:
            obs = session.env.reset(**kwargs)
            session.used = time.monotonic()
            facts = self._facts(session.env)
        with self._lock:
            self._resets += 1
        return obs, facts

    def step(self, session_id: str, action: CodeAction) -> CodeObservation:
        """Apply one action to the session's episode (the environment's ``step``)."""
        session = self._session(session_id)
        with session.lock:
            obs: CodeObservation = session.env.step(action)
            session.used = time.monotonic()
        with self._lock:
            self._steps += 1
        return obs

    def close(self, session_id: str) -> None:
        """Close a session (idempotent; ids of other incarnations are ignored)."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.env.close()

    # -- facts and records ------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Who and where this host is, and what it has served."""
        import socket

        with self._lock:
            sessions, steps, resets = len(self._sessions), self._steps, self._resets
        return {"index": self.index, "incarnation": self.incarnation, "pid": os.getpid(),
                "hostname": socket.gethostname(), "isolation": self.sandbox.isolation,
                "sandbox_workers": getattr(self.sandbox, "info", {}).get("workers"), "sessions": sessions,
                "resets": resets, "steps": steps, "db": self.db_path}

    def episode_ids(self) -> list[str]:
        """Every episode id in this host's store, oldest first."""
        if self.recorder is None:
            return []
        return [e["episode_id"] for e in reversed(self.recorder.list_episodes(limit=None))]

    def episode_records(self, episode_ids: list[str]) -> list[dict[str, Any]]:
        """Complete records (the store's form, as ``TrajectoryStore.load_episode``) of stored episodes."""
        if self.recorder is None:
            return []
        return [self.recorder.load_episode(eid) for eid in episode_ids if self.recorder.has_episode(eid)]

    # -- helpers ----------------------------------------------------------------------------------

    def _session(self, session_id: str) -> _Session:
        index, incarnation = parse_session_id(session_id)
        if index != self.index:
            raise SessionClosedError(f"session {session_id} belongs to host {index}, not host {self.index}")
        if incarnation != self.incarnation:
            raise SessionLostError(
                f"session {session_id} was lost: host {self.index} died and was restarted (incarnation "
                f"{incarnation} -> {self.incarnation}); its unfinished episode is gone, the steps it returned "
                "are recorded; open a new session", session_id=session_id, host=f"host {self.index}")
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise SessionClosedError(f"session {session_id} is closed (or was reaped after "
                                     f"{self.session_timeout_s:.0f} s idle); open a new one")
        return session

    def _facts(self, env: Any) -> dict[str, Any]:
        state, task = env.state, env.task
        return {"seed": state.seed, "variant": state.variant, "episode_id": state.episode_id,
                "host": f"host {self.index}", "isolation": state.isolation,
                "task_hash": task.content_hash if task is not None else None}

    def _reap(self) -> None:
        cutoff = time.monotonic() - self.session_timeout_s
        with self._lock:
            idle = [sid for sid, s in self._sessions.items() if s.used < cutoff and not s.lock.locked()]
        for sid in idle:
            self.close(sid)


def _store_path(db_path: str) -> str:
    path = Path(db_path).expanduser()
    if not path.is_absolute():
        from tracefix_rl.data.trajectories import default_db_path

        path = default_db_path().expanduser().parent / path
    return str(path)
