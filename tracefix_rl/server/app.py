"""The OpenEnv server: TraceFix-RL behind OpenEnv's session manager, with hardened edges.

What the app serves (simulation mode):

* ``/ws``, the episode channel (one environment per connection), handled by
  :class:`~tracefix_rl.server._ws.WebSocketHandler` (OpenEnv's protocol and session manager,
  TraceFix's message handling: no malformed frame ends a session).
* ``POST /reset`` and ``POST /step`` (stateless HTTP, kept for validators: a reset's episode is
  not recorded, a step answers that no episode is in progress), validated by the wire models of
  :mod:`tracefix_rl.server.wire` into 4xx errors that name the field.
* OpenEnv's own routes: ``/state``, ``/health``, ``/schema``, ``/metadata``, ``/mcp``, ``/docs``,
  the Task API (``/tracefix_rl/splits``, ``/tracefix_rl/tasks``, ... with validated bodies).
* TraceFix routes: ``GET /tasks`` (the task bank, no hidden parts), ``GET /task_packs`` (packs in
  ``--task-pack-dir``), ``GET /sessions`` (live sessions, capacity, idle timeout), and the
  trajectory routes ``GET /episodes``, ``GET /trajectories/{episode_id}``, ``POST
  /episodes/{episode_id}/replay``, which show a client only the episodes recorded for its API
  key, and are off unless a key is configured or ``--trajectory-routes`` is given.

Every HTTP request passes :class:`~tracefix_rl.server._http.HttpGuard` (API key, body size and
strict JSON, a JSON 500 safety net). Settings (argument > environment variable > default):
capacity ``TRACEFIX_MAX_SESSIONS`` (256), idle timeout ``TRACEFIX_SESSION_TIMEOUT`` (600 s),
port ``PORT`` (7860), host ``HOST`` (127.0.0.1), API keys ``TRACEFIX_API_KEY`` (comma-separated),
task pack directory ``TRACEFIX_TASK_PACK_DIR``, trajectory routes without a key
``TRACEFIX_TRAJECTORY_ROUTES=1``, message cap ``TRACEFIX_MAX_MESSAGE_BYTES`` (1 MiB). Every
WebSocket episode is recorded to the trajectory store (``TRACEFIX_DB``; off with
``TRACEFIX_RECORD=0``).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from fastapi import Body, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.serialization import serialize_observation
from openenv.core.env_server.types import ConcurrencyConfig, EnvironmentMetadata, ResetResponse, StepResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tracefix_rl._version import __version__
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import ResetArgumentError, SessionClosedError, TraceFixError
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment
from tracefix_rl.env.reset_args import EPISODE_ID_PATTERN
from tracefix_rl.server._auth import ANONYMOUS, ApiKeys
from tracefix_rl.server._http import HttpGuard
from tracefix_rl.server._screen import DEFAULT_MAX_MESSAGE_BYTES
from tracefix_rl.server._ws import WebSocketHandler, failure_of
from tracefix_rl.server.wire import (
    TASK_SPLITS,
    ResetArgs,
    SplitBody,
    StepBody,
    TraceFixAction,
    TraceFixObservation,
    TraceFixState,
    to_core_action,
    to_wire_observation,
    to_wire_state,
)

__all__ = [
    "DEFAULT_HOST",
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
DEFAULT_HOST = "127.0.0.1"
#: The transport refuses (closes with 1009) frames larger than this many times the message cap;
#: frames between the cap and this get an error frame and the session goes on.
TRANSPORT_FACTOR = 8
#: Largest task pack file the server opens (a pack of a few thousand tasks is a few MB).
MAX_PACK_BYTES = 256 * 2**20
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


class _OwnedRecorder:
    """The shared recorder as one session sees it: episodes are stored with the session's owner."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.owner = inner, ANONYMOUS
        self._takes_owner = "owner" in inspect.signature(inner.start_episode).parameters

    def start_episode(self, manifest: dict[str, Any], observation: Any) -> None:
        if self._takes_owner:
            self.inner.start_episode(manifest, observation, owner=self.owner)
        else:
            self.inner.start_episode(manifest, observation)

    def record_step(self, record: Any) -> None:
        self.inner.record_step(record)

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None:
        self.inner.end_episode(episode_id, final_score, end_reason)

    def release_episode(self, episode_id: str) -> None:
        release = getattr(self.inner, "release_episode", None)
        if release is not None:
            release(episode_id)


class TraceFixServerEnvironment(Environment[TraceFixAction, TraceFixObservation, TraceFixState]):
    """One session's environment: a :class:`TraceFixEnvironment` behind OpenEnv's interface.

    ``reset`` accepts the fields of :class:`~tracefix_rl.server.wire.ResetArgs` (``task_name``
    or its synonym ``task_id``, ``difficulty``, ``seed``, ``variant``, ``episode_id``,
    ``split``/``index``, and ``task_pack`` as a *name* inside the server's task pack directory),
    works with no arguments, and raises a :class:`~tracefix_rl.core.errors.TraceFixError` naming the
    field for anything invalid, leaving the current episode as it was; after the session was
    closed (the idle reaper) it raises :class:`~tracefix_rl.core.errors.SessionClosedError`. ``step``
    never raises: before a reset, after the session was closed, or for an agent mistake it
    returns an observation whose ``last_action_error`` says what went wrong. Episodes are
    recorded with the session's ``owner`` (set by the WebSocket handler from the API key).
    """

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, *, config: EnvConfig | None = None, recorder: Any = None,
                 book: SessionBook | None = None, session_timeout: float | None = None,
                 task_source: Any = None, task_pack_dir: Path | None = None) -> None:
        super().__init__()
        self._recorder = _OwnedRecorder(recorder) if recorder is not None else None
        env = TraceFixEnvironment(config, task_source=task_source)
        self._core = RecordEpisodes(env, self._recorder) if self._recorder is not None else env
        self._book = book
        self._session_timeout = session_timeout
        self._pack_dir = task_pack_dir
        self._closed = False
        self._was_reset = False
        if book is not None:
            book.opened(self)

    @property
    def owner(self) -> str:
        """Who the episodes of this session are recorded for (a digest of the API key, or ``anonymous``)."""
        return self._recorder.owner if self._recorder is not None else ANONYMOUS

    @owner.setter
    def owner(self, value: str) -> None:
        if self._recorder is not None:
            self._recorder.owner = value

    def reset(self, seed: int | None = None, episode_id: str | None = None, task_name: str | None = None,
              task_id: str | None = None, difficulty: str | None = None, variant: int | None = None,
              split: str | None = None, index: int | None = None, task_pack: str | None = None,
              **unknown: Any) -> TraceFixObservation:
        """Start an episode (see :meth:`TraceFixEnvironment.reset` and the class docstring)."""
        if self._closed:
            raise SessionClosedError(self._closed_reason())
        name = task_name or task_id
        if name is None and split is not None:
            try:
                name = self.get_task(split, index or 0)["task_name"]
            except IndexError as exc:
                raise ResetArgumentError("index" if split in TASK_SPLITS else "split", str(exc)) from None
        pack = self._pack_path(task_pack) if task_pack is not None else None
        obs = self._core.reset(task_name=name, difficulty=difficulty, seed=seed, variant=variant,
                               episode_id=episode_id, task_pack=pack, **unknown)
        self._was_reset = True
        return to_wire_observation(obs)

    def step(self, action: Any, timeout_s: float | None = None, **_: Any) -> TraceFixObservation:
        """Apply one action. Time limits are the sandbox's; ``timeout_s`` is ignored on purpose."""
        if self._closed:
            return _error_observation(self._closed_reason())
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
            raise IndexError(f"index {index} is out of range: split {split!r} has {len(tasks)} tasks")
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

    def _closed_reason(self) -> str:
        why = "this session was closed by the server"
        if self._session_timeout is not None:
            why += f" (idle for more than {self._session_timeout:g} s)"
        return why + "; reconnect and reset to start a new episode"

    def _pack_path(self, name: str) -> str:
        """The path of task pack ``name`` inside the configured directory, checked before it is opened."""
        if self._pack_dir is None:
            raise ResetArgumentError("task_pack", "this server serves no task packs (its operator can start it "
                                                  "with --task-pack-dir DIR)")
        return pack_path(self._pack_dir, name)


def pack_path(root: Path, name: str) -> str:
    """``root / name`` if it is a task pack the server may open: a regular file (at most
    :data:`MAX_PACK_BYTES`) or a directory of them, inside ``root``; else ResetArgumentError."""
    import re

    from tracefix_rl.server.wire import TASK_PACK_NAME_PATTERN

    if not isinstance(name, str) or not re.match(TASK_PACK_NAME_PATTERN, name):
        raise ResetArgumentError("task_pack", "must be the name of a pack in the server's pack directory "
                                              "(letters, digits, ._-), never a path")
    path = (root / name).resolve()
    if path.parent != root or not path.exists():
        raise ResetArgumentError("task_pack", f"no task pack {name!r} on this server (GET /task_packs lists them)")
    mode = path.stat().st_mode
    files = [path] if stat.S_ISREG(mode) else sorted(path.iterdir()) if stat.S_ISDIR(mode) else None
    if files is None:
        raise ResetArgumentError("task_pack", f"{name!r} is not a regular file or directory")
    for f in files:
        st = f.stat()
        if f.suffix in (".jsonl", ".toml", ".json", ".parquet") or f == path:
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PACK_BYTES:
                raise ResetArgumentError("task_pack", f"{name!r} holds {f.name!r}, which is not a regular file "
                                                      f"of at most {MAX_PACK_BYTES} bytes")
    return str(path)


def _split_tasks(split: str) -> list[dict[str, Any]]:
    from tracefix_rl.data.tasks import GRADED_TASKS, get_task, list_tasks

    if split == "graded":
        tasks = [get_task(t) for t in GRADED_TASKS]
    elif split == "all":
        tasks = list_tasks()
    elif split in ("easy", "medium", "hard"):
        tasks = list_tasks(split)
    else:
        raise IndexError(f"unknown split {str(split)[:40]!r}; splits: {', '.join(TASK_SPLITS)}")
    return [{"task_name": t.name, "difficulty": t.difficulty, "aliases": list(t.aliases),
             "description": t.description, "reset": {"task_name": t.name}} for t in tasks]


def _error_observation(message: str) -> TraceFixObservation:
    return TraceFixObservation(last_execution_output=f"Error: {message}", last_action_error=message,
                               metadata={"last_action_error": message})


def _readme() -> str | None:
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


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _default_recorder() -> Any:
    """The trajectory store's default recorder (``TRACEFIX_DB``), or None when recording is off."""
    from tracefix_rl.data.trajectories import default_recorder

    return default_recorder()


# Routes of OpenEnv's that TraceFix serves itself (validated input, typed errors).
_REPLACED = {"/ws", "/reset", "/step", "/{env_name}/tasks", "/{env_name}/num_tasks", "/{env_name}/task",
             "/{env_name}/task_range"}
_ERROR_MODEL = {"content": {"application/json": {"schema": {"type": "object", "properties": {
    "detail": {"description": "what was wrong (a message, or a list of {loc, msg, type} naming each field)"}}}}}}
_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not strict JSON (syntax, NaN, nesting, lone surrogates); the detail "
                         "says what", **_ERROR_MODEL},
    401: {"description": "An API key is required and was missing or wrong", **_ERROR_MODEL},
    413: {"description": "The body is larger than the server's message limit", **_ERROR_MODEL},
}


def create_app(*, max_sessions: int | None = None, session_timeout: float | None = None,
               config: EnvConfig | None = None, recorder: Any = "default", task_pack: str | None = None,
               task_pack_dir: str | os.PathLike[str] | None = None, api_key: str | None = None,
               trajectory_routes: bool | None = None, max_message_bytes: int | None = None) -> FastAPI:
    """Build the FastAPI app (the routes listed in the module doc).

    Args:
        max_sessions: concurrent WebSocket sessions (default ``TRACEFIX_MAX_SESSIONS`` or 256).
        session_timeout: seconds of inactivity after which a session is reaped (default
            ``TRACEFIX_SESSION_TIMEOUT`` or 600; ``0`` disables reaping).
        config: settings of every session's environment.
        recorder: a :class:`~tracefix_rl.env.Recorder` shared by all sessions; ``"default"``
            uses the trajectory store's default, ``None`` records nothing.
        task_pack: a task pack every session draws from when ``reset`` names none (default
            ``TRACEFIX_TASK_PACK``, else the built-in bank).
        task_pack_dir: the directory whose packs clients may name in ``reset(task_pack=NAME)``
            (default ``TRACEFIX_TASK_PACK_DIR``; none: clients cannot choose packs).
        api_key: required key(s), comma-separated (default ``TRACEFIX_API_KEY``; none: open).
        trajectory_routes: serve ``/episodes``, ``/trajectories/...`` and replay without a key
            (default ``TRACEFIX_TRAJECTORY_ROUTES``); with keys they are always on, per key.
        max_message_bytes: cap of one WebSocket message or HTTP body (default
            ``TRACEFIX_MAX_MESSAGE_BYTES`` or 1 MiB).
    """
    from tracefix_rl.data.tasks import open_task_source

    pack = task_pack or os.environ.get("TRACEFIX_TASK_PACK") or None
    task_source = open_task_source(pack) if pack else None
    pack_dir_raw = task_pack_dir or os.environ.get("TRACEFIX_TASK_PACK_DIR") or None
    pack_dir = Path(pack_dir_raw).expanduser().resolve() if pack_dir_raw else None
    if pack_dir is not None and not pack_dir.is_dir():
        raise ValueError(f"task pack directory {str(pack_dir)!r} is not a directory")
    capacity = max_sessions if max_sessions is not None else _env_number(
        "TRACEFIX_MAX_SESSIONS", DEFAULT_MAX_SESSIONS, int)
    timeout = session_timeout if session_timeout is not None else _env_number(
        "TRACEFIX_SESSION_TIMEOUT", DEFAULT_SESSION_TIMEOUT)
    limit = max_message_bytes if max_message_bytes is not None else _env_number(
        "TRACEFIX_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES, int)
    if capacity < 1:
        raise ValueError("max_sessions must be at least 1")
    if limit < 4096:
        raise ValueError("max_message_bytes must be at least 4096")
    keys = ApiKeys(api_key if api_key is not None else os.environ.get("TRACEFIX_API_KEY"))
    routes_on = keys.required or (trajectory_routes if trajectory_routes is not None
                                  else _env_flag("TRACEFIX_TRAJECTORY_ROUTES"))
    timeout_or_none = float(timeout) if timeout and timeout > 0 else None
    rec = _default_recorder() if isinstance(recorder, str) and recorder == "default" else recorder
    book = SessionBook()

    def factory() -> TraceFixServerEnvironment:
        return TraceFixServerEnvironment(config=config, recorder=rec, book=book, session_timeout=timeout_or_none,
                                         task_source=task_source, task_pack_dir=pack_dir)

    def stateless() -> TraceFixServerEnvironment:  # HTTP /reset: an episode nobody can continue is not recorded
        return TraceFixServerEnvironment(config=config, task_source=task_source, task_pack_dir=pack_dir)

    app = FastAPI(title="TraceFix-RL", version=__version__, description=DESCRIPTION,
                  responses=_COMMON_RESPONSES)
    server = HTTPEnvServer(factory, TraceFixAction, TraceFixObservation, env_name=ENV_NAME,
                           concurrency_config=ConcurrencyConfig(max_concurrent_envs=capacity,
                                                                session_timeout=timeout_or_none),
                           state_cls=TraceFixState)
    server.register_routes(app, mode="simulation")
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in _REPLACED]
    app.add_api_websocket_route("/ws", WebSocketHandler(server, keys=keys, max_message_bytes=limit))
    app.add_middleware(HttpGuard, keys=keys, max_body_bytes=limit)
    app.state.session_book = book
    app.state.recorder = rec
    app.state.env_server = server
    app.state.max_message_bytes = limit
    _add_control_routes(app, stateless)
    _add_routes(app, book, capacity, timeout_or_none, pack_dir)
    _add_trajectory_routes(app, rec, keys, routes_on)
    return app


def _failure_response(exc: BaseException, task_field: str = "task_name") -> JSONResponse:
    failure = failure_of(exc, task_field=task_field)
    return JSONResponse(status_code=failure.status, content={"detail": failure.detail()})


def _add_control_routes(app: FastAPI, stateless: Any) -> None:
    @app.post("/reset", tags=["Environment Control"], response_model=ResetResponse,
              responses={409: {"description": "episode_id is already recorded", **_ERROR_MODEL},
                         503: {"description": "the server could not start the episode", **_ERROR_MODEL}})
    async def reset_route(args: ResetArgs | None = Body(default=None)) -> Any:  # noqa: B008
        """Start an episode on a throw-away environment and return its first observation.

        Stateless: the episode is not recorded and cannot be continued over HTTP (use the
        WebSocket ``/ws``). Every field is optional; unknown fields, mistyped or out-of-range
        values, unknown tasks and packs are a 422 whose detail names the field.
        """
        kwargs = args.model_dump(exclude_none=True) if args is not None else {}

        def run() -> Any:
            env = stateless()
            try:
                return ResetResponse(**serialize_observation(env.reset(**kwargs)))
            finally:
                env.close()

        try:
            return await run_in_threadpool(run)
        except Exception as exc:
            return _failure_response(exc, "task_id" if kwargs.get("task_id") and not kwargs.get("task_name")
                                     else "task_name")

    @app.post("/step", tags=["Environment Control"], response_model=StepResponse)
    async def step_route(body: StepBody) -> Any:
        """Validate an action; stateless HTTP has no episode, so the observation says to reset first
        (multi-step episodes run over the WebSocket ``/ws``). An invalid action is a 422 naming the field."""
        obs = _error_observation("no episode in progress: HTTP /step is stateless (OpenEnv); play episodes "
                                 "over the WebSocket /ws")
        return StepResponse(**serialize_observation(obs))

    def task_api(method: str) -> Any:
        async def handler(body: SplitBody, env_name: Literal["tracefix_rl"] = PathParam(  # noqa: B008
                description=f"The environment's name: {ENV_NAME}")) -> Any:
            tasks = _split_tasks(body.split)
            if method == "tasks":
                return {"tasks": tasks, "env_name": ENV_NAME}
            if method == "num_tasks":
                return {"num_tasks": len(tasks)}
            if method == "task":
                index = body.index or 0
                if index >= len(tasks):
                    raise HTTPException(status_code=422, detail=[{"loc": ["body", "index"], "type": "value_error",
                                                                  "msg": f"index {index} is out of range: split "
                                                                         f"{body.split!r} has {len(tasks)} tasks"}])
                return {"task": tasks[index]}
            return {"tasks": tasks[body.start:body.stop]}

        handler.__doc__ = f"OpenEnv Task API: {method} of a split (graded, all, easy, medium, hard)."
        return handler

    for method in ("tasks", "num_tasks", "task", "task_range"):
        app.add_api_route(f"/{{env_name}}/{method}", task_api(method), methods=["POST"], tags=["Task API"],
                          name=f"task_api_{method}")


def _add_routes(app: FastAPI, book: SessionBook, capacity: int, timeout: float | None,
                pack_dir: Path | None) -> None:
    @app.get("/tasks", tags=["TraceFix"])
    def list_tasks_route(difficulty: str | None = Query(None, max_length=20)) -> list[dict[str, Any]]:
        """The task bank: name, difficulty, aliases, description, test counts (nothing hidden)."""
        from tracefix_rl.data.tasks import list_tasks

        try:
            tasks = list_tasks(difficulty)
        except TraceFixError as exc:
            raise HTTPException(status_code=400, detail=f"difficulty: {exc}") from None
        return [{"name": t.name, "difficulty": t.difficulty, "aliases": list(t.aliases),
                 "description": t.description, "entry_point": t.entry_point,
                 "visible_tests": len(t.tests), "hidden_tests": len(t.hidden_tests),
                 "max_steps": t.max_steps} for t in tasks]

    @app.get("/task_packs", tags=["TraceFix"])
    def list_packs_route() -> dict[str, Any]:
        """The task packs clients may name in ``reset(task_pack=NAME)`` (none unless ``--task-pack-dir``)."""
        if pack_dir is None:
            return {"task_packs": [], "note": "this server serves no task packs (--task-pack-dir)"}
        names = []
        for p in sorted(pack_dir.iterdir()):
            try:
                pack_path(pack_dir, p.name)
            except ResetArgumentError:
                continue
            names.append(p.name)
        return {"task_packs": names}

    @app.get("/sessions", tags=["TraceFix"])
    def sessions_route() -> dict[str, Any]:
        """Live session environments, capacity and the idle timeout (``null``: never reaped)."""
        return {"active": book.active, "created": book.created, "closed": book.closed,
                "capacity": capacity, "session_timeout": timeout}


def _add_trajectory_routes(app: FastAPI, recorder: Any, keys: ApiKeys, enabled: bool) -> None:
    def owner_of(request: Request) -> str:
        if not enabled:
            raise HTTPException(status_code=403, detail="the trajectory routes are disabled: start the server "
                                                        "with --api-key (each key sees its own episodes) or "
                                                        "--trajectory-routes")
        owner = keys.principal(request.headers)
        if owner is None:  # the guard already refused it; kept for direct ASGI use
            raise HTTPException(status_code=401, detail="missing or wrong API key")
        return owner

    def own(store: Any, episode_id: str, owner: str) -> None:
        if store.episode_owner(episode_id) != owner:
            raise HTTPException(status_code=404, detail=f"no recorded episode {episode_id!r} for this client")

    episode_path = PathParam(..., pattern=EPISODE_ID_PATTERN, description="A full episode id.")

    @app.get("/episodes", tags=["TraceFix"], responses={403: {"description": "trajectory routes disabled"}})
    def episodes_route(request: Request, limit: int = Query(20, ge=1, le=1000),
                       task: str | None = Query(None, max_length=512)) -> Any:
        """Summaries of the most recent episodes recorded for this client (its API key), newest first."""
        owner = owner_of(request)
        return _jsonable(_store(recorder).list_episodes(task=task, limit=limit, owner=owner))

    @app.get("/trajectories/{episode_id}", tags=["TraceFix"],
             responses={403: {"description": "trajectory routes disabled"}, 404: {"description": "no such episode"}})
    def trajectory_route(request: Request, episode_id: str = episode_path) -> Any:
        """One episode recorded for this client: manifest and every step with its full observation."""
        owner = owner_of(request)
        store = _store(recorder)
        own(store, episode_id, owner)
        found = store.get_trajectory(episode_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no recorded episode {episode_id!r} for this client")
        found.pop("owner", None)
        # the recorded task holds the reference and the hidden tests: a client never sees them
        # (it may meet the same task again); a replay on the server reads them from the store
        if isinstance(found.get("manifest"), dict) and found["manifest"].pop("task", None) is not None:
            found["manifest"]["task_withheld"] = True
        return _jsonable(found)

    @app.post("/episodes/{episode_id}/replay", tags=["TraceFix"],
              responses={403: {"description": "trajectory routes disabled"}, 404: {"description": "no such episode"},
                         409: {"description": "the episode cannot be replayed"}})
    def replay_route(request: Request, episode_id: str = episode_path) -> Any:
        """Re-execute an episode recorded for this client and report whether every observation hash matches."""
        owner = owner_of(request)
        store = _store(recorder)
        own(store, episode_id, owner)
        from tracefix_rl.env.replay import replay

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
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tracefix_rl.server", description="Serve TraceFix-RL (OpenEnv).")
    p.add_argument("--host", default=os.environ.get("HOST", DEFAULT_HOST),
                   help=f"bind address (HOST, default {DEFAULT_HOST}; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=None, help=f"port (PORT, default {DEFAULT_PORT})")
    p.add_argument("--max-sessions", type=int, default=None,
                   help=f"concurrent sessions (TRACEFIX_MAX_SESSIONS, default {DEFAULT_MAX_SESSIONS})")
    p.add_argument("--session-timeout", type=float, default=None,
                   help=f"idle seconds before a session is reaped, 0 = never "
                        f"(TRACEFIX_SESSION_TIMEOUT, default {DEFAULT_SESSION_TIMEOUT:g})")
    p.add_argument("--api-key", default=None,
                   help="require this key (several: comma-separated) on HTTP and WebSocket (TRACEFIX_API_KEY)")
    p.add_argument("--task-pack-dir", default=None,
                   help="directory whose task packs clients may name in reset(task_pack=NAME) "
                        "(TRACEFIX_TASK_PACK_DIR)")
    p.add_argument("--trajectory-routes", action="store_true", default=None,
                   help="serve /episodes and /trajectories without an API key (TRACEFIX_TRAJECTORY_ROUTES=1)")
    p.add_argument("--max-message-bytes", type=int, default=None,
                   help="cap of one WebSocket message or HTTP body (TRACEFIX_MAX_MESSAGE_BYTES, default 1 MiB)")
    p.add_argument("--log-level", default=os.environ.get("TRACEFIX_LOG_LEVEL", "info"))
    return p


def serve(host: str = DEFAULT_HOST, port: int | None = None, *, max_sessions: int | None = None,
          session_timeout: float | None = None, log_level: str = "info", api_key: str | None = None,
          task_pack_dir: str | None = None, trajectory_routes: bool | None = None,
          max_message_bytes: int | None = None) -> None:
    """Run the server with uvicorn (one worker: sessions live in this process) until stopped."""
    import uvicorn

    port = port if port is not None else _env_number("PORT", DEFAULT_PORT, int)
    app = create_app(max_sessions=max_sessions, session_timeout=session_timeout, api_key=api_key,
                     task_pack_dir=task_pack_dir, trajectory_routes=trajectory_routes,
                     max_message_bytes=max_message_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level,
                ws_max_size=TRANSPORT_FACTOR * app.state.max_message_bytes)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``server``, ``python -m tracefix_rl.server`` and ``server/app.py``."""
    args = _parser().parse_args(argv)
    serve(args.host, args.port, max_sessions=args.max_sessions, session_timeout=args.session_timeout,
          log_level=args.log_level, api_key=args.api_key, task_pack_dir=args.task_pack_dir,
          trajectory_routes=args.trajectory_routes, max_message_bytes=args.max_message_bytes)


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
