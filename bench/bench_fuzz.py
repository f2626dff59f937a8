"""Fuzz the real server with malformed WebSocket messages and HTTP requests (plus schemathesis).

    python bench/bench_fuzz.py [--quick] [--ws N] [--http N] [--schemathesis N] [--json PATH]
                               [--pythonpath DIR]

Starts ``python -m tracefix_rl.server`` on loopback (trajectory store in a temporary file) and
runs, in order:

* the WebSocket fuzzer of ``bench/_fuzz.py`` (``--ws`` messages over 8 sessions);
* the HTTP fuzzer of ``bench/_fuzz.py`` (``--http`` requests on one keep-alive connection);
* schemathesis against ``/openapi.json`` (``--schemathesis`` examples per operation, all
  phases, check ``not_a_server_error``), when it is installed;
* one big frame (``--big-frame-mib``, default 94) sent by another process on its own session
  while 4 other sessions time VIEW_CODE steps: the slowest of their steps during the send is
  the stall it caused the server.

Each fuzzer gets a fresh server process, so one that crashes the server does not hide the others.

The table reports, per fuzzer: responses of 500 or more, sessions
ended by a bad message, errors that do not name the field or frame problem, malformed input
accepted. ``--pythonpath DIR`` runs the server from another source tree (the "before" figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402
from _fuzz import http_fuzz, ws_fuzz  # noqa: E402
from bench_server import _free_port, _process  # noqa: E402


def schemathesis_run(url: str, examples: int, headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Run the schemathesis CLI against ``url/openapi.json``; returns cases, failures and seconds."""
    exe = Path(sys.executable).with_name("schemathesis")
    if not exe.exists() and not shutil.which("schemathesis"):
        return {"installed": False}
    cmd = [str(exe if exe.exists() else "schemathesis"), "run", f"{url}/openapi.json", "--checks",
           "not_a_server_error", "--max-examples", str(examples), "--workers", "1", "--report", "ndjson",
           "--report-dir", str(workdir), "--request-timeout", "60", "--seed", "1",
           "--suppress-health-check", "all", "--continue-on-failure"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    import re

    server_errors = 0
    examples_out: list[str] = []
    counts = re.search(r"(\d+) generated, (.*)", proc.stdout)
    cases = int(counts.group(1)) if counts else 0
    failed = re.search(r"(\d+) failed", counts.group(2)) if counts else None
    failures = int(failed.group(1)) if failed else 0
    for line in proc.stdout.splitlines():
        if "Server error" in line or "500 Internal" in line:
            server_errors += 1
            if len(examples_out) < 10:
                examples_out.append(line.strip())
    summary = [ln for ln in proc.stdout.splitlines() if "test cases" in ln.lower() or "passed" in ln.lower()
               or "failed" in ln.lower()]
    return {"installed": True, "exit_code": proc.returncode, "cases": cases, "failures": failures,
            "server_error_lines": server_errors, "summary": summary[-6:], "examples": examples_out,
            "seconds": round(time.perf_counter() - started, 1), "tail": proc.stdout[-1500:]}


_HOG = """
import asyncio, json, sys, time
import websockets

async def main():
    url, mib = sys.argv[1], float(sys.argv[2])
    payload = json.dumps({"type": "step", "data": {"action_type": "VIEW_CODE", "thought": "t" * int(mib * 2**20)}})
    async with websockets.connect(url, max_size=None, additional_headers=json.loads(sys.argv[3])) as ws:
        await ws.send(json.dumps({"type": "reset", "data": {"task_name": "task1_easy", "seed": 0}}))
        await ws.recv()
        print("ready", flush=True)
        sys.stdin.readline()
        t0 = time.perf_counter()
        try:
            await ws.send(payload)
            reply = await asyncio.wait_for(ws.recv(), 60)
            outcome = "reply: " + reply[:160]
        except Exception as exc:
            outcome = f"closed: {type(exc).__name__}: {exc}"[:200]
        print(json.dumps({"outcome": outcome, "seconds_to_answer": round(time.perf_counter() - t0, 3)}), flush=True)

asyncio.run(main())
"""


async def big_frame(url: str, mib: float, headers: dict[str, str]) -> dict[str, Any]:
    """One ``mib`` MiB frame, sent by another process while 4 sessions here time VIEW_CODE steps; the
    slowest of their steps during the send is the stall it caused the server."""
    import websockets

    ws_url = url.replace("http://", "ws://") + "/ws"

    async def session() -> Any:
        ws = await websockets.connect(ws_url, max_size=None, additional_headers=headers)
        await ws.send(json.dumps({"type": "reset", "data": {"task_name": "task1_easy", "seed": 0}}))
        await ws.recv()
        return ws

    probes = [await session() for _ in range(4)]
    hog = await asyncio.create_subprocess_exec(sys.executable, "-c", _HOG, ws_url, str(mib), json.dumps(headers),
                                               stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert hog.stdout is not None and hog.stdin is not None
    await hog.stdout.readline()  # ready
    stop = asyncio.Event()
    worst = [0.0]
    steps = [0]

    async def probe(ws: Any) -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await ws.send(json.dumps({"type": "step", "data": {"action_type": "VIEW_CODE"}}))
            await ws.recv()
            worst[0] = max(worst[0], time.perf_counter() - t)
            steps[0] += 1

    tasks = [asyncio.create_task(probe(ws)) for ws in probes]
    await asyncio.sleep(1.0)
    baseline_worst, worst[0] = worst[0], 0.0
    hog.stdin.write(b"go\n")
    await hog.stdin.drain()
    result = json.loads((await hog.stdout.readline()) or b"{}")
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await hog.wait()
    for ws in probes:
        try:
            await ws.close()
        except Exception:
            pass
    return {"mib": mib, "outcome": result.get("outcome", "?"), "seconds_to_answer": result.get("seconds_to_answer"),
            "worst_other_step_s": round(worst[0], 3), "worst_other_step_before_s": round(baseline_worst, 3),
            "other_steps": steps[0]}


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzers against a fresh server, print the table, write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    p.add_argument("--ws", type=int, default=None, help="malformed WebSocket messages (default 2500)")
    p.add_argument("--http", type=int, default=None, help="malformed HTTP requests (default 2500)")
    p.add_argument("--schemathesis", type=int, default=None, help="schemathesis examples per operation (default 60)")
    p.add_argument("--big-frame-mib", type=float, default=None, help="size of the big frame (default 94)")
    p.add_argument("--pythonpath", default=None, help="run the server from this source tree")
    p.add_argument("--api-key", default=None, help="start the server with this API key and send it")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    n_ws = args.ws if args.ws is not None else (150 if args.quick else 2500)
    n_http = args.http if args.http is not None else (150 if args.quick else 2500)
    n_st = args.schemathesis if args.schemathesis is not None else (0 if args.quick else 60)
    mib = args.big_frame_mib if args.big_frame_mib is not None else (0 if args.quick else 94)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TRACEFIX_DB": str(Path(tmp) / "fuzz.sqlite3"), "PYTHONUNBUFFERED": "1"}
        env.pop("ENABLE_WEB_INTERFACE", None)
        if args.pythonpath:
            env["PYTHONPATH"] = args.pythonpath
        if args.api_key:
            env["TRACEFIX_API_KEY"] = args.api_key

        def server() -> Any:  # a fresh server per fuzzer, so one that crashes does not hide the others
            port = _free_port()
            cmd = [sys.executable, "-m", "tracefix_rl.server", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "critical", "--max-sessions", "64"]
            return _process(cmd, port, env, Path(args.pythonpath or ROOT), keep=True)

        with server() as (url, proc):
            ws = asyncio.run(ws_fuzz(url, n_ws, sessions=8, headers=headers))
            extra["ws_server_alive"] = proc.poll() is None
        rows.append({"fuzzer": "WebSocket messages", "sent": ws.messages, "5xx / killed": ws.sessions_killed,
                     "unnamed errors": ws.unnamed, "accepted malformed": ws.accepted_malformed,
                     "python internals": ws.python_internals, "stalls": ws.stalls,
                     "episode disturbed": ws.episode_disturbed, "server crashed": not extra["ws_server_alive"],
                     "seconds": ws.seconds})
        extra["ws"] = ws.to_dict()
        print(f"  ws fuzz done: {ws.to_dict()['killed_by']}", file=sys.stderr, flush=True)
        with server() as (url, proc):
            http = http_fuzz(url, n_http, headers=headers)
            extra["http_server_alive"] = proc.poll() is None
        rows.append({"fuzzer": "HTTP requests", "sent": http.requests, "5xx / killed": http.server_errors,
                     "unnamed errors": http.unnamed_4xx, "accepted malformed": None, "python internals": None,
                     "stalls": http.transport_errors, "episode disturbed": None,
                     "server crashed": not extra["http_server_alive"], "seconds": http.seconds})
        extra["http"] = http.to_dict()
        print(f"  http fuzz done: {http.to_dict()['status']}", file=sys.stderr, flush=True)
        if n_st:
            with server() as (url, proc):
                st = schemathesis_run(url, n_st, headers, Path(tmp))
                extra["schemathesis_server_alive"] = proc.poll() is None
            extra["schemathesis"] = st
            if st.get("installed"):
                rows.append({"fuzzer": "schemathesis", "sent": st["cases"], "5xx / killed": st["failures"],
                             "unnamed errors": None, "accepted malformed": None, "python internals": None,
                             "stalls": None, "episode disturbed": None,
                             "server crashed": not extra["schemathesis_server_alive"], "seconds": st["seconds"]})
        if mib:
            with server() as (url, proc):
                extra["big_frame"] = asyncio.run(big_frame(url, mib, headers))
            print(f"  big frame: {extra['big_frame']}", file=sys.stderr, flush=True)
    extra["pythonpath"] = args.pythonpath
    emit("fuzz", rows, extra, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
