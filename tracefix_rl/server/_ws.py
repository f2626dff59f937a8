"""The ``/ws`` episode channel: OpenEnv's protocol, with message handling that no client can break.

Protocol (the same frames as OpenEnv's, so its ``EnvClient`` works unchanged): one JSON text
frame per message, strictly request then reply::

    -> {"type": "reset", "data": {<ResetArgs>}}     <- {"type": "observation", "data": {...}}
    -> {"type": "step", "data": {<action>}}         <- {"type": "observation", "data": {...}}
    -> {"type": "state"}                            <- {"type": "state", "data": {...}}
    -> {"type": "close"}                            (the session ends)
    <- {"type": "error", "data": {"code": ..., "message": ..., "field"?: ..., "errors"?: [...]}}

What differs from OpenEnv's handler: every malformed frame (binary, too large, not JSON, not an
object, ``NaN``, nesting too deep, lone surrogates, unknown or mistyped ``type``, invalid
``data``) gets an error frame naming the problem and the session goes on; a message is parsed,
validated, executed and serialised in the session's own worker thread (the event loop only
moves frames); the frame size is capped (``max_message_bytes``, default 1 MiB: larger messages
up to the transport cap get an error frame, beyond it the socket is closed with 1009); a reset
is validated before anything changes; and a session the idle reaper closed answers
``SESSION_CLOSED`` instead of starting a phantom episode. Error codes: ``INVALID_FRAME``,
``INVALID_JSON``, ``UNKNOWN_TYPE``, ``VALIDATION_ERROR``, ``EPISODE_ID_IN_USE``,
``SESSION_CLOSED``, ``EXECUTION_ERROR``, ``CAPACITY_REACHED``, ``UNAUTHORIZED``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_json
from starlette.websockets import WebSocket, WebSocketDisconnect

from tracefix_rl.core.errors import (
    EpisodeIdInUseError,
    ResetArgumentError,
    SessionClosedError,
    TaskError,
    TraceFixError,
    TrajectoryError,
    UnknownTaskError,
)
from tracefix_rl.server._auth import UNAUTHORIZED, ApiKeys
from tracefix_rl.server._screen import FrameError, parse_json
from tracefix_rl.server.wire import ResetArgs, TraceFixAction

__all__ = ["Failure", "WebSocketHandler", "failure_of", "validation_failure"]

log = logging.getLogger("tracefix_rl.server")

MESSAGE_TYPES = ("reset", "step", "state", "close")


@dataclass
class Failure:
    """A refused request: wire ``code``, HTTP ``status``, a message naming the problem, and the field."""

    code: str
    status: int
    message: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None

    def frame(self) -> str:
        """The WebSocket error frame."""
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        if self.errors:
            data["errors"] = self.errors
        return json.dumps({"type": "error", "data": data})

    def detail(self) -> Any:
        """The HTTP ``detail``: FastAPI's validation-error list when a field is known, else the message."""
        if self.errors:
            return [{"loc": ["body", *e["field"].split(".")], "msg": e["message"], "type": e["type"]}
                    for e in self.errors]
        if self.field:
            return [{"loc": ["body", self.field], "msg": self.message, "type": self.code.lower()}]
        return self.message


def validation_failure(exc: ValidationError, what: str, accepted: tuple[str, ...] = ()) -> Failure:
    """A pydantic error as a :class:`Failure` whose message names every offending field (values omitted)."""
    errors = []
    for e in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in e["loc"]) or what
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown field ({what} accepts: {', '.join(accepted)})" if accepted else "unknown field"
        errors.append({"field": field, "message": msg, "type": e["type"]})
    text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Failure("VALIDATION_ERROR", 422, f"invalid {what}: {text}", errors[0]["field"] if errors else None,
                   errors)


def failure_of(exc: BaseException, *, task_field: str = "task_name") -> Failure:
    """How an exception from ``reset`` or ``step`` is told to the client."""
    if isinstance(exc, EpisodeIdInUseError):
        return Failure("EPISODE_ID_IN_USE", 409, str(exc), exc.field)
    if isinstance(exc, ResetArgumentError):
        return Failure("VALIDATION_ERROR", 422, str(exc), exc.field)
    if isinstance(exc, UnknownTaskError):
        return Failure("VALIDATION_ERROR", 422, f"reset argument {task_field!r}: {exc}", task_field)
    if isinstance(exc, TaskError):
        return Failure("VALIDATION_ERROR", 422, f"reset arguments: {exc}")
    if isinstance(exc, SessionClosedError):
        return Failure("SESSION_CLOSED", 410, str(exc))
    if isinstance(exc, TrajectoryError):
        return Failure("EXECUTION_ERROR", 503, f"{exc} (the session goes on; nothing changed)")
    if isinstance(exc, TraceFixError):
        return Failure("EXECUTION_ERROR", 503, f"{type(exc).__name__}: {exc} (the session goes on)")
    log.exception("unexpected error while handling a message", exc_info=exc)
    return Failure("EXECUTION_ERROR", 500, f"the server failed to handle the message ({type(exc).__name__}, "
                                           "logged); the session goes on")


class WebSocketHandler:
    """The ``/ws`` endpoint over OpenEnv's session manager (``HTTPEnvServer``): capacity, per-session
    worker threads, the idle reaper and ``/sessions`` bookkeeping stay OpenEnv's."""

    def __init__(self, server: Any, *, keys: ApiKeys, max_message_bytes: int) -> None:
        self.server, self.keys, self.limit = server, keys, max_message_bytes

    async def __call__(self, websocket: WebSocket) -> None:
        await websocket.accept()
        owner = self.keys.principal(websocket.headers)
        if owner is None:
            await self._refuse(websocket, "UNAUTHORIZED", UNAUTHORIZED, 1008)
            return
        if websocket.query_params.get("session_id"):
            await self._refuse(websocket, "VALIDATION_ERROR", "session_id: attaching to an existing session is "
                                                              "not supported; open /ws without it", 1008)
            return
        from openenv.core.env_server.exceptions import EnvironmentFactoryError, SessionCapacityError

        try:
            session_id, env = await self.server._create_session()
        except SessionCapacityError as exc:
            await self._refuse(websocket, "CAPACITY_REACHED", str(exc), 1013)
            return
        except EnvironmentFactoryError as exc:
            await self._refuse(websocket, "FACTORY_ERROR", str(exc), 1011)
            return
        env.owner = owner
        executor = self.server._session_executors.get(session_id)
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                alive = session_id in self.server._sessions
                reply: str | None
                if text is None:
                    reply, close, stepped = Failure(
                        "INVALID_FRAME", 400, "binary frames are not accepted: send each message as a JSON text "
                                              "frame").frame(), False, False
                else:  # a reaped session's worker is gone: its (closed) env answers from the shared pool
                    reply, close, stepped = await loop.run_in_executor(
                        executor if alive else self.server._executor, self.handle, env, text)
                if alive:
                    self.server._update_session_activity(session_id, increment_step=stepped)
                if reply is not None:
                    await websocket.send_text(reply)
                if close:
                    break
        except WebSocketDisconnect:
            pass
        finally:
            await self.server._destroy_session(session_id)
            try:
                await websocket.close()
            except (RuntimeError, WebSocketDisconnect):
                pass

    async def _refuse(self, websocket: WebSocket, code: str, message: str, close_code: int) -> None:
        try:
            await websocket.send_text(Failure(code, 400, message).frame())
            await websocket.close(code=close_code, reason=code)
        except (RuntimeError, WebSocketDisconnect):
            pass

    def handle(self, env: Any, text: str) -> tuple[str | None, bool, bool]:
        """One message, in the session's worker thread: ``(reply frame, close the socket, was a step)``."""
        try:
            msg = parse_json(text, limit=self.limit)
            if not isinstance(msg, dict):
                raise FrameError("INVALID_JSON", "a message must be a JSON object such as "
                                                 f'{{"type": "step", "data": {{...}}}}, got {_kind(msg)}')
            kind = msg.get("type")
            if kind is None:
                raise FrameError("UNKNOWN_TYPE", f"the message has no 'type' (one of {', '.join(MESSAGE_TYPES)})")
            if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
                shown = repr(kind)[:40] if isinstance(kind, str) else _kind(kind)
                raise FrameError("UNKNOWN_TYPE", f"unknown message type {shown} (one of "
                                                 f"{', '.join(MESSAGE_TYPES)}; mcp is served at POST /mcp)")
            if kind == "close":
                return None, True, False
            if kind == "state":
                return json.dumps({"type": "state", "data": env.state.model_dump(mode="json")}), False, False
            data = msg.get("data", {} if kind == "reset" else None)
            if not isinstance(data, dict):
                got = "nothing" if data is None else _kind(data)
                raise FrameError("VALIDATION_ERROR", f"data: a {kind} message needs 'data' to be a JSON object, "
                                                     f"got {got}", field="data")
            if kind == "reset":
                return self._reset(env, data), False, False
            try:
                action = TraceFixAction.model_validate(data)
            except ValidationError as exc:
                return validation_failure(exc, "step data").frame(), False, False
            return _observation_frame(env.step(action)), False, True
        except FrameError as exc:
            return Failure(exc.code, 400, exc.message, exc.field).frame(), False, False
        except Exception as exc:
            return failure_of(exc).frame(), False, False

    def _reset(self, env: Any, data: dict[str, Any]) -> str:
        try:
            args = ResetArgs.model_validate(data)
        except ValidationError as exc:
            return validation_failure(exc, "reset data", tuple(ResetArgs.model_fields)).frame()
        try:
            obs = env.reset(**args.model_dump(exclude_none=True))
        except Exception as exc:
            return failure_of(exc, task_field="task_id" if args.task_id and not args.task_name else "task_name").frame()
        return _observation_frame(obs)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _observation_frame(obs: Any) -> str:
    from openenv.core.env_server.serialization import serialize_observation

    frame = {"type": "observation", "data": serialize_observation(obs)}
    try:
        return to_json(frame).decode()  # pydantic-core's encoder: ~3x json.dumps
    except (PydanticSerializationError, ValueError):  # not valid Unicode: escaped, so the frame stays UTF-8
        return json.dumps(frame)
