"""The OpenEnv server: TraceFix-RL behind OpenEnv's ``create_app``, plus a few TraceFix routes.

What the app serves (simulation mode):

* OpenEnv's own routes: ``/ws`` (the episode channel, one environment per connection),
  ``/reset``, ``/step``, ``/state`` (stateless HTTP, kept for validators), ``/health``,
  ``/schema``, ``/metadata``, ``/mcp``, ``/docs``.
* TraceFix routes: ``GET /tasks`` (the task bank, no hidden parts), ``GET /sessions`` (live
  sessions, capacity, idle timeout), ``GET /episodes`` (recent recorded episodes),
  ``GET /trajectories/{episode_id}`` and ``POST /episodes/{episode_id}/replay`` (re-execute a
  recorded episode and verify every observation hash).

Settings (argument > environment variable > default): capacity ``TRACEFIX_MAX_SESSIONS``
(256), idle-session timeout in seconds ``TRACEFIX_SESSION_TIMEOUT`` (600), port ``PORT``
(7860), host ``HOST`` (0.0.0.0). Every episode is recorded to the trajectory store
(``TRACEFIX_DB``; off with ``TRACEFIX_RECORD=0``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from openenv.core.env_server.http_server import create_app as _openenv_create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import ConcurrencyConfig, EnvironmentMetadata

from tracefix_rl._version import __version__
from tracefix_rl.config import EnvConfig
from tracefix_rl.env import TraceFixEnvironment
from tracefix_rl.errors import TraceFixError
from tracefix_rl.server._wire import (
    TraceFixAction,
    TraceFixObservation,
    TraceFixState,
    to_core_action,
    to_wire_observation,
    to_wire_state,
)

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_PORT",
    "DEFAULT_SESSION_TIMEOUT",
    "SessionBook",
    "TraceFixServerEnvironment",
    "create_app",
    "main",
]

DEFAULT_MAX_SESSIONS = 256
DEFAULT_SESSION_TIMEOUT = 600.0
DEFAULT_PORT = 7860
ENV_NAME = "tracefix_rl"
DESCRIPTION = (
    "TraceFix-RL: an agent repairs a buggy Python program by viewing it, running its tests, "
    "tracing a failing test, and editing line ranges; SUBMIT grades it on visible and hidden tests."
)


class SessionBook:
    """Counts the environments one app has alive (a session's env is closed when it ends or is reaped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self.created = 0
        self.closed = 0

    def opened(self, env: object) -> None:
        """Note a new session environment."""
        with self._lock:
            self._live.add(id(env))
            self.created += 1

    def ended(self, env: object) -> None:
        """Note that a session environment was closed (idempotent)."""
        with self._lock:
            if id(env) in self._live:
                self._live.discard(id(env))
                self.closed += 1

    @property
    def active(self) -> int:
        """Session environments currently alive."""
        with self._lock:
            return len(self._live)


class TraceFixServerEnvironment(Environment[TraceFixAction, TraceFixObservation, TraceFixState]):
    """One session's environment: a :class:`TraceFixEnvironment` behind OpenEnv's interface.

    ``reset`` accepts ``task_name`` (or its synonym ``task_id``), ``difficulty``, ``seed``,
    ``variant`` and ``episode_id``, and works with no arguments. ``step`` never raises: before a
    reset, after the session was reaped, or for an agent mistake it returns an observation whose
    ``last_action_error`` says what went wrong.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, *, config: EnvConfig | None = None, recorder: Any = None,
                 book: SessionBook | None = None, session_timeout: float | None = None,
                 task_source: Any = None) -> None:
        super().__init__()
        self._core = TraceFixEnvironment(config, recorder=recorder, task_source=task_source)
        self._book = book
        self._session_timeout = session_timeout
        self._closed = False
        self._was_reset = False
        if book is not None:
            book.opened(self)

    def reset(self, seed: int | None = None, episode_id: str | None = None, task_name: str | None = None,
              task_id: str | None = None, difficulty: str | None = None, variant: int | None = None,
              split: str | None = None, index: int | None = None, task_pack: str | None = None,
              **_: Any) -> TraceFixObservation:
        """Start an episode (see :meth:`TraceFixEnvironment.reset`); unknown tasks raise ``TaskError``.

        ``split`` and ``index`` select a task through the OpenEnv Task API (:meth:`list_tasks`).
        """
        name = task_name or task_id
        if name is None and split is not None:
            name = self.get_task(split, int(index or 0))["task_name"]
        obs = self._core.reset(task_name=name, difficulty=difficulty, seed=seed,
                               variant=variant, episode_id=episode_id, task_pack=task_pack)
        self._was_reset = True
        return to_wire_observation(obs)

    def step(self, action: Any, timeout_s: float | None = None, **_: Any) -> TraceFixObservation:
        """Apply one action. Time limits are the sandbox's; ``timeout_s`` is ignored on purpose."""
        if self._closed:
            why = "this session was closed by the server"
            if self._session_timeout is not None:
                why += f" (idle for more than {self._session_timeout:g} s)"
            return _error_observation(why + "; reconnect and reset to start a new episode")
        if not self._was_reset:
            return _error_observation("no episode in progress; call reset() before step()")
        return to_wire_observation(self._core.step(to_core_action(action)))

    @property
    def state(self) -> TraceFixState:
        """The current episode's bookkeeping."""
        return to_wire_state(self._core.state)

    def get_metadata(self) -> EnvironmentMetadata:
        """Name, description and version for ``/metadata``."""
        return EnvironmentMetadata(name=ENV_NAME, description=DESCRIPTION, version=__version__,
                                   author="TraceFix-RL contributors", readme_content=_readme())

    # -- OpenEnv Task API (``/tracefix_rl/splits``, ``/tracefix_rl/tasks``, ...) ---------------------

    def list_splits(self) -> list[str]:
        """``graded`` (the three openenv.yaml tasks), ``all``, and one split per difficulty."""
        return list(TASK_SPLITS)

    def list_tasks(self, split: str) -> list[dict[str, Any]]:
        """The tasks of ``split``, each with the ``reset`` arguments that select it."""
        return _split_tasks(split)

    def num_tasks(self, split: str) -> int:
        """How many tasks ``split`` has."""
        return len(_split_tasks(split))

    def get_task(self, split: str, index: int) -> dict[str, Any]:
        """Task ``index`` of ``split`` (IndexError if out of range)."""
        tasks = _split_tasks(split)
        if not 0 <= index < len(tasks):
            raise IndexError(index)
        return tasks[index]

    def get_task_range(self, split: str, start: int, stop: int) -> list[dict[str, Any]]:
        """Tasks ``start:stop`` of ``split``."""
        return _split_tasks(split)[start:stop]

    def close(self) -> None:
        """Release the session (idempotent); a later ``step`` answers with an error observation."""
        if not self._closed:
            self._closed = True
            self._core.close()
            if self._book is not None:
                self._book.ended(self)


GRADED_TASKS = ("task1_easy", "task2_medium", "task3_hard")
TASK_SPLITS = ("graded", "all", "easy", "medium", "hard")


def _split_tasks(split: str) -> list[dict[str, Any]]:
    from tracefix_rl.tasks import get_task, list_tasks

    if split == "graded":
        tasks = [get_task(t) for t in GRADED_TASKS]
    elif split == "all":
        tasks = list_tasks()
    elif split in ("easy", "medium", "hard"):
        tasks = list_tasks(split)
    else:
        raise IndexError(f"unknown split {split!r}; splits: {', '.join(TASK_SPLITS)}")
    return [{"task_name": t.name, "difficulty": t.difficulty, "aliases": list(t.aliases),
             "description": t.description, "reset": {"task_name": t.name}} for t in tasks]


def _error_observation(message: str) -> TraceFixObservation:
    return TraceFixObservation(last_execution_output=f"Error: {message}", last_action_error=message,
                               metadata={"last_action_error": message})


def _readme() -> str | None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "README.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _env_number(name: str, default: float, cast: type = float) -> Any:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return cast(default)
    try:
        return cast(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _default_recorder() -> Any:
    """The trajectory store's default recorder (``TRACEFIX_DB``), or None when recording is off."""
    from tracefix_rl.trajectory import default_recorder

    return default_recorder()


def create_app(*, max_sessions: int | None = None, session_timeout: float | None = None,
               config: EnvConfig | None = None, recorder: Any = "default",
               task_pack: str | None = None) -> FastAPI:
    """Build the FastAPI app (OpenEnv routes plus the TraceFix routes listed in the module doc).

    Args:
        max_sessions: concurrent WebSocket sessions (default ``TRACEFIX_MAX_SESSIONS`` or 256).
        session_timeout: seconds of inactivity after which a session is reaped (default
            ``TRACEFIX_SESSION_TIMEOUT`` or 600; ``0`` disables reaping).
        config: settings of every session's environment.
        recorder: a :class:`~tracefix_rl.env.Recorder` shared by all sessions; ``"default"``
            uses the trajectory store's default, ``None`` records nothing.
        task_pack: a task pack every session draws from when ``reset`` names none (default
            ``TRACEFIX_TASK_PACK``, else the built-in bank).
    """
    from tracefix_rl.tasks._source import open_task_source

    pack = task_pack or os.environ.get("TRACEFIX_TASK_PACK") or None
    task_source = open_task_source(pack) if pack else None
    capacity = max_sessions if max_sessions is not None else _env_number(
        "TRACEFIX_MAX_SESSIONS", DEFAULT_MAX_SESSIONS, int)
    timeout = session_timeout if session_timeout is not None else _env_number(
        "TRACEFIX_SESSION_TIMEOUT", DEFAULT_SESSION_TIMEOUT)
    if capacity < 1:
        raise ValueError("max_sessions must be at least 1")
    timeout_or_none = float(timeout) if timeout and timeout > 0 else None
    rec = _default_recorder() if isinstance(recorder, str) and recorder == "default" else recorder
    if rec is None:  # the core would otherwise fall back to the default recorder
        config = dataclasses.replace(config or EnvConfig(), record=False)
    book = SessionBook()

    def factory() -> TraceFixServerEnvironment:
        return TraceFixServerEnvironment(config=config, recorder=rec, book=book,
                                         session_timeout=timeout_or_none, task_source=task_source)

    app = _openenv_create_app(
        factory, TraceFixAction, TraceFixObservation, env_name=ENV_NAME,
        concurrency_config=ConcurrencyConfig(max_concurrent_envs=capacity, session_timeout=timeout_or_none),
        state_cls=TraceFixState,
    )
    app.title = "TraceFix-RL"
    app.version = __version__
    app.state.session_book = book
    app.state.recorder = rec
    _add_routes(app, book, capacity, timeout_or_none, rec)
    return app


def _add_routes(app: FastAPI, book: SessionBook, capacity: int, timeout: float | None, recorder: Any) -> None:
    @app.get("/tasks", tags=["TraceFix"])
    def list_tasks_route(difficulty: str | None = None) -> list[dict[str, Any]]:
        """The task bank: name, difficulty, aliases, description, test counts (nothing hidden)."""
        from tracefix_rl.tasks import list_tasks

        try:
            tasks = list_tasks(difficulty)
        except TraceFixError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return [{"name": t.name, "difficulty": t.difficulty, "aliases": list(t.aliases),
                 "description": t.description, "entry_point": t.entry_point,
                 "visible_tests": len(t.tests), "hidden_tests": len(t.hidden_tests),
                 "max_steps": t.max_steps} for t in tasks]

    @app.get("/sessions", tags=["TraceFix"])
    def sessions_route() -> dict[str, Any]:
        """Live session environments, capacity and the idle timeout (``null``: never reaped)."""
        return {"active": book.active, "created": book.created, "closed": book.closed,
                "capacity": capacity, "session_timeout": timeout}

    @app.get("/episodes", tags=["TraceFix"])
    def episodes_route(limit: int = Query(20, ge=1, le=1000), task: str | None = None) -> Any:
        """Summaries of the most recently recorded episodes, newest first (optionally of one task)."""
        store = _store(recorder)
        return _jsonable(store.list_episodes(task=task, limit=limit))

    @app.get("/trajectories/{episode_id}", tags=["TraceFix"])
    def trajectory_route(episode_id: str) -> Any:
        """One recorded episode: manifest and every step."""
        store = _store(recorder)
        found = store.get_trajectory(episode_id) if store.has_episode(episode_id) else None
        if found is None:
            raise HTTPException(status_code=404, detail=f"no recorded episode {episode_id!r}")
        return _jsonable(found)

    @app.post("/episodes/{episode_id}/replay", tags=["TraceFix"])
    def replay_route(episode_id: str) -> Any:
        """Re-execute a recorded episode and report whether every observation hash matches."""
        store = _store(recorder)
        from tracefix_rl.trajectory import replay

        if not store.has_episode(episode_id):
            raise HTTPException(status_code=404, detail=f"no recorded episode {episode_id!r}")
        try:
            report = replay(episode_id, db=store.path)
        except TraceFixError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        return _jsonable(report)


def _store(recorder: Any) -> Any:
    if recorder is None or not hasattr(recorder, "list_episodes"):
        raise HTTPException(status_code=501, detail="this server records no episodes "
                                                    "(TRACEFIX_RECORD=0 or a custom recorder)")
    return recorder


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tracefix_rl.server", description="Serve TraceFix-RL (OpenEnv).")
    p.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"), help="bind address (HOST)")
    p.add_argument("--port", type=int, default=None, help=f"port (PORT, default {DEFAULT_PORT})")
    p.add_argument("--max-sessions", type=int, default=None,
                   help=f"concurrent sessions (TRACEFIX_MAX_SESSIONS, default {DEFAULT_MAX_SESSIONS})")
    p.add_argument("--session-timeout", type=float, default=None,
                   help=f"idle seconds before a session is reaped, 0 = never "
                        f"(TRACEFIX_SESSION_TIMEOUT, default {DEFAULT_SESSION_TIMEOUT:g})")
    p.add_argument("--log-level", default=os.environ.get("TRACEFIX_LOG_LEVEL", "info"))
    return p


def serve(host: str = "0.0.0.0", port: int | None = None, *, max_sessions: int | None = None,
          session_timeout: float | None = None, log_level: str = "info") -> None:
    """Run the server with uvicorn (one worker: sessions live in this process) until stopped."""
    import uvicorn

    port = port if port is not None else _env_number("PORT", DEFAULT_PORT, int)
    app = create_app(max_sessions=max_sessions, session_timeout=session_timeout)
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws_max_size=100 * 1024 * 1024)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``server``, ``python -m tracefix_rl.server`` and ``server/app.py``."""
    args = _parser().parse_args(argv)
    serve(args.host, args.port, max_sessions=args.max_sessions, session_timeout=args.session_timeout,
          log_level=args.log_level)


def __getattr__(name: str) -> Any:
    # ``uvicorn tracefix_rl.server.app:app`` (and openenv.yaml's ``server.app:app``) want a module
    # attribute; build it on first access so importing this module stays cheap to configure.
    if name == "app":
        value = create_app()
        globals()["app"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
