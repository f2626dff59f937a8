"""A scripted OpenAI-compatible chat-completions server: the test double for the *model*.

It speaks real HTTP (``POST /v1/chat/completions``, the OpenAI response shape) and decides each
reply from the last user message, which ``tracefix_rl.agents.llm.observation_text`` renders.
The behaviour is chosen by the request's ``model`` name:

* ``scripted-fix``: RUN_TESTS, then REPLACE_LINES edits that turn the shown program into the
  task's reference solution (read from the task bank), RUN_TESTS, and SUBMIT once all visible
  tests pass. Replies are bare JSON, so structured output (``parse``) succeeds.
* ``scripted-fenced``: the same policy, but every reply wraps the JSON in prose and a code fence,
  so ``parse`` fails and the agent must fall back to ``create`` plus JSON extraction.
* ``scripted-garbage``: prose first, then JSON that violates the action schema; never a valid
  action (exercises the parse-error kill switch and the schema-error feedback).
* ``scripted-loop``: VIEW_CODE forever (exercises the loop kill switch).
* ``scripted-tiered``: decides per episode from the task's tier, so an evaluation's resolved
  rates and pass@k are known in advance: ``easy`` tasks are fixed (as ``scripted-fix``),
  ``hard`` ones are submitted unchanged, and of the episodes of a ``medium`` task the 1st,
  3rd, 5th, ... to start are fixed and the others submitted unchanged. Episodes are counted
  per task and per model name, so ``scripted-tiered:<anything>`` starts a fresh count.

``GET /log`` returns every request received (model, whether ``response_format`` was sent, the
last user message), so tests can check what the agent told the model.

Run standalone: ``python tests/agents/scripted_model_server.py --port 8001``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_TASK_RE = re.compile(r"^task: (\S+) \(", re.M)
_TIER_RE = re.compile(r"^task: (\S+) \((\w+)\)", re.M)
_FIRST_STEP_RE = re.compile(r"^step 0, ", re.M)
_LINE_RE = re.compile(r"^\s*(\d+) \| (.*)$")


def _program(user: str) -> str:
    _, _, listing = user.partition("current program:\n")
    lines = []
    for raw in listing.splitlines():
        m = _LINE_RE.match(raw)
        if m:
            lines.append(m.group(2))
    return "\n".join(lines)


def fix_policy(user: str) -> dict[str, Any]:
    """The next action of the fixing script, decided from the rendered observation."""
    from tracefix_rl.agents.scripted import fix_actions
    from tracefix_rl.data.tasks import get_task

    if "ALL PASS" in user:
        return {"thought": "Observation: all visible tests pass. Plan: submit.", "action_type": "SUBMIT"}
    if "visible tests passing:" not in user:
        return {"thought": "Observation: no test evidence yet. Plan: run the tests.", "action_type": "RUN_TESTS"}
    m = _TASK_RE.search(user)
    if not m:
        return {"thought": "No task header; submit.", "action_type": "SUBMIT"}
    task = get_task(m.group(1))
    current = _program(user)
    edits = fix_actions(current, task.reference.strip("\n"))
    if edits:
        return edits[0].model_dump(exclude_none=True)
    return {"thought": "Observation: program matches the intended code. Plan: re-run tests.",
            "action_type": "RUN_TESTS"}


def tiered_policy(user: str, episode: int) -> dict[str, Any]:
    """``scripted-tiered``: at an episode's first step, fix or give up by tier and by the task's
    episode number (from 0); an episode that did not give up goes on as ``scripted-fix``."""
    m = _TIER_RE.search(user)
    tier = m.group(2) if m else "hard"
    give_up = tier == "hard" or (tier == "medium" and episode % 2 == 1)
    if give_up and _FIRST_STEP_RE.search(user):
        return {"thought": "Give up: submit the program as it is.", "action_type": "SUBMIT"}
    return fix_policy(user)


def reply_for(model: str, user: str, turn: int, episode: int = 0) -> str:
    """The assistant message content for ``model`` (see the module docstring); ``episode`` is
    the number of earlier episodes of this task for this model name."""
    if model.split(":", 1)[0] == "scripted-tiered":
        return json.dumps(tiered_policy(user, episode))
    if model == "scripted-fix":
        return json.dumps(fix_policy(user))
    if model == "scripted-fenced":
        return "Here is my action:\n```json\n" + json.dumps(fix_policy(user), indent=2) + "\n```\nGood luck."
    if model == "scripted-garbage":
        if turn % 2 == 0:
            return "I believe the bug is on line 3, you should change the comparison."
        return json.dumps({"action_type": "FIX_EVERYTHING", "lines": [1, 2]})
    if model == "scripted-loop":
        return json.dumps({"thought": "Look at the code again.", "action_type": "VIEW_CODE"})
    return json.dumps({"thought": f"unknown scripted model {model!r}", "action_type": "SUBMIT"})


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedModelServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/log":
            with self.server.lock:
                self._send(200, list(self.server.requests))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        model = str(body.get("model", ""))
        users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
        user = users[-1] if users else ""
        task = _TASK_RE.search(user)
        with self.server.lock:
            turn = sum(1 for r in self.server.requests if r["model"] == model)
            self.server.requests.append({"model": model, "structured": "response_format" in body,
                                         "user": user, "auth": self.headers.get("authorization", "")})
            key = (model, task.group(1) if task else "")
            if _FIRST_STEP_RE.search(user):
                self.server.episodes[key] = self.server.episodes.get(key, 0) + 1
            episode = self.server.episodes.get(key, 1) - 1
        content = reply_for(model, user, turn, episode)
        self._send(200, {
            "id": f"chatcmpl-scripted-{turn}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": (len(user) + len(content)) // 4},
        })


class ScriptedModelServer(ThreadingHTTPServer):
    """The HTTP server; ``requests`` records every chat request received."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.episodes: dict[tuple[str, str], int] = {}
        """(model, task) -> episodes started (first request of an episode: its step 0)."""

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` of this server."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> ScriptedModelServer:
        """Serve from a daemon thread and return self."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


@pytest.fixture(scope="session")
def model_server():
    """The scripted model server (real HTTP on loopback), for the test suites that import it."""
    srv = ScriptedModelServer(0).start()
    yield srv
    srv.shutdown()
    srv.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    srv = ScriptedModelServer(args.port)
    print(srv.base_url, flush=True)
    srv.serve_forever()
