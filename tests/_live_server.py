"""Start the real TraceFix-RL server process on a free loopback port (shared by server/agent tests)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 10.0) -> object:
    """GET ``url`` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: object | None = None, timeout: float = 60.0) -> object:
    """POST ``body`` as JSON to ``url`` and decode the JSON reply."""
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


@dataclass
class LiveServer:
    """A running ``python -m tracefix_rl.server`` process."""

    url: str
    port: int
    db: Path
    proc: subprocess.Popen
    log: Path

    def get(self, path: str) -> object:
        """GET a JSON route of this server."""
        return get_json(self.url + path)

    def post(self, path: str, body: object | None = None) -> object:
        """POST to a JSON route of this server."""
        return post_json(self.url + path, body)


@contextlib.contextmanager
def live_server(workdir: Path, *args: str, env: dict[str, str] | None = None, startup_s: float = 60.0,
                port_from_env: bool = False, command: list[str] | None = None) -> Iterator[LiveServer]:
    """Run the server with ``args`` (e.g. ``--max-sessions 2``) until the block exits.

    ``port_from_env`` passes the port as ``PORT`` instead of ``--port``; ``command`` replaces
    ``python -m tracefix_rl.server``.
    """
    port = free_port()
    db = workdir / "trajectories.sqlite3"
    log = workdir / f"server-{port}.log"
    full_env = {**os.environ, "TRACEFIX_DB": str(db), "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("ENABLE_WEB_INTERFACE", None)
    argv = [*(command or [sys.executable, "-m", "tracefix_rl.server"]), "--host", "127.0.0.1",
            "--log-level", "warning", *args]
    if port_from_env:
        full_env["PORT"] = str(port)
    else:
        argv += ["--port", str(port)]
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", port=port, db=db, proc=proc, log=log)
    try:
        wait_ready(proc, log, lambda: server.get("/health") == {"status": "healthy"}, startup_s)
        yield server
    finally:
        stop(proc)


def wait_ready(proc: subprocess.Popen, log: Path, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``ready()`` until it is true; ``RuntimeError`` with the process's log if the process
    exits first or ``timeout`` seconds pass (``OSError`` from ``ready`` counts as not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f} s:\n{log.read_text()}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server process started by a test (killed if it does not exit in 10 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
