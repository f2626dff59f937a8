"""``tracefix view``: binds loopback by default, refuses other hosts' names, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tracefix_rl.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from _live_server import free_port, stop  # noqa: E402


def test_help_names_the_defaults_and_a_missing_store_is_a_clear_error(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["view", "--help"], env={"COLUMNS": "200"}).output
    assert "127.0.0.1" in out and "--db" in out and "--port" in out
    missing = runner.invoke(app, ["view", "--db", str(tmp_path / "none.sqlite3")])
    assert missing.exit_code == 2 and "no trajectory store at" in missing.output


def test_it_serves_on_loopback_and_refuses_a_rebound_host_name(tmp_path):
    from tracefix_rl.data.trajectories import TrajectoryStore

    db = tmp_path / "t.sqlite3"
    TrajectoryStore(db).close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tracefix_rl.cli.main", "view", "--db", str(db), "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(url)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200 and 'id="episode-count">0<' in r.text
        # a page of another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing
        assert httpx.get(url, headers={"Host": f"evil.example:{port}"}).status_code == 400
        assert _listening_on(port) == {"127.0.0.1"}
    finally:
        stop(proc)


def _listening_on(port: int) -> set[str]:
    """The IPv4 addresses with a listening socket on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hexport = local.split(":")
        if int(hexport, 16) == port and state == "0A":
            found.add(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found
