"""The HTTP guard: an ASGI middleware in front of every HTTP route.

In order, for each HTTP request:

1. **API key.** When keys are configured, a request without a valid one gets 401 (except the
   static pages and files of :func:`~tracefix_rl.server._auth.is_open`).
2. **Body screening.** A body larger than the limit gets 413; a non-empty body that is not
   strict JSON (not UTF-8, syntax error, ``NaN``, too deep, a lone surrogate escape) gets 400
   with a detail naming the problem (:func:`~tracefix_rl.server._screen.parse_json`). So no
   route's own JSON parsing can fail on what a client sent.
3. **Safety net.** An exception escaping a route becomes a JSON 500 (logged) instead of a
   dropped connection; the keep-alive connection stays usable. Nothing a client sends should
   reach it: every route validates its input into a 4xx.

WebSocket scopes pass through (the ``/ws`` handler authenticates and screens each message itself).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tracefix_rl.server._auth import UNAUTHORIZED, ApiKeys, is_open
from tracefix_rl.server._screen import FrameError, parse_json

__all__ = ["HttpGuard"]

log = logging.getLogger("tracefix_rl.server")


class HttpGuard:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: Any, *, keys: ApiKeys, max_body_bytes: int) -> None:
        self.app, self.keys, self.max_body_bytes = app, keys, max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not is_open(str(scope.get("path", ""))) and self.keys.principal(headers) is None:
            await _json(send, 401, {"detail": UNAUTHORIZED}, {"www-authenticate": "Bearer"})
            return
        body = b""
        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    await _json(send, 413, {"detail": f"request body too large: more than the limit of "
                                                      f"{self.max_body_bytes} bytes"})
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            if body.strip():
                try:
                    parse_json(body, limit=self.max_body_bytes, what="request body")
                except FrameError as exc:
                    await _json(send, 400, {"detail": f"body: {exc.message}"})
                    return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, replay if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE") else receive,
                           tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _json(send, 500, {"detail": "internal server error (logged on the server); the request "
                                                  "changed nothing it could not finish"})


async def _json(send: Any, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
