"""A scripted, streaming OpenAI-compatible chat model for verifiers' OpenEnv loop (a test double).

Each user turn verifiers sends is ``{"observation": {...}, "action_schema": {...}}``. The model
answers with bare JSON actions: RUN_TESTS, then the REPLACE_LINES edits that turn the task's buggy
program into its reference (the oracle's edits), then SUBMIT, chosen by how many replies it has
already given in the conversation. It streams (``stream: true``) as verifiers' interception proxy
requires, and answers non-streaming requests too.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _script(task_name: str) -> list[dict[str, Any]]:
    from tracefix_rl.agents.scripted import fix_actions
    from tracefix_rl.data.tasks import get_task

    task = get_task(task_name)
    edits = [a.model_dump(exclude_none=True) for a in fix_actions(task.buggy, task.reference)]
    return [{"action_type": "RUN_TESTS"}, *edits, {"action_type": "SUBMIT"}]


def reply_for(messages: list[dict[str, Any]]) -> str:
    """The next reply of the script for this conversation."""
    first = next(m for m in messages if m["role"] == "user")
    content = first["content"] if isinstance(first["content"], str) else first["content"][0]["text"]
    script = _script(json.loads(content)["observation"]["task_name"])
    turn = sum(1 for m in messages if m["role"] == "assistant")
    return json.dumps(script[min(turn, len(script) - 1)])


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._json({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "tests"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        text = reply_for(body["messages"])
        base = {"id": "chatcmpl-scripted", "created": int(time.time()), "model": body.get("model", "scripted")}
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        if not body.get("stream"):
            self._json({**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        chunks = [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None},
                  {"index": 0, "delta": {}, "finish_reason": "stop"}]
        for choice in chunks:
            self._event({**base, "object": "chat.completion.chunk", "choices": [choice]})
        self._event({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, int]:
    """Start the model on 127.0.0.1 in a daemon thread; returns the server and its port."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]
