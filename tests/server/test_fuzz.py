"""Fuzz the real server: malformed WebSocket messages, malformed HTTP requests, schemathesis.

A seeded sample of the fuzzers in ``bench/_fuzz.py`` (the large run is ``bench/bench_fuzz.py``):
no response of 500 or more, no session ended by a bad message, every error names the offending
field or frame problem, nothing malformed accepted, no rejected message changing the episode.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _fuzz import http_fuzz, ws_fuzz  # noqa: E402


@pytest.mark.parametrize("seed", [1, 2])
def test_malformed_websocket_messages_never_end_a_session(server, seed):
    report = asyncio.run(ws_fuzz(server.url, 250, sessions=4, seed=seed))
    assert report.messages == 250
    assert report.sessions_killed == 0 and report.stalls == 0 and report.server_down == 0, report.examples
    assert report.unnamed == 0 and report.python_internals == 0, report.examples
    assert report.accepted_malformed == 0 and report.episode_disturbed == 0, report.examples
    assert report.named == report.error_replies > 200


@pytest.mark.parametrize("seed", [1, 2])
def test_malformed_http_requests_get_named_4xx_never_5xx(server, seed):
    report = http_fuzz(server.url, 300, seed=seed)
    assert report.requests == 300
    assert report.server_errors == 0 and report.transport_errors == 0, report.examples
    assert report.unnamed_4xx == 0, report.examples
    assert sum(n for status, n in report.status.items() if 400 <= status < 500) > 100


def test_schemathesis_finds_no_server_error(server, tmp_path):
    exe = Path(sys.executable).with_name("schemathesis")
    if not exe.exists() and not shutil.which("schemathesis"):
        pytest.skip("schemathesis is not installed (the dev extra installs it)")
    proc = subprocess.run([str(exe) if exe.exists() else "schemathesis", "run", f"{server.url}/openapi.json",
                           "--checks", "not_a_server_error", "--max-examples", "8", "--workers", "1",
                           "--seed", "3", "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "generated" in proc.stdout and "failed" not in proc.stdout.split("Test cases:")[-1], proc.stdout[-3000:]
