"""WebSocket round-trip benchmark: TraceFix-RL's VIEW_CODE and RUN_TESTS vs OpenEnv's echo env.

Both servers run as real processes on loopback in the same run (uvicorn, one worker), and are
driven through OpenEnv's async ``EnvClient`` over ``/ws``: the TraceFix server with
:class:`tracefix_rl.TraceFixRLEnv`, the echo server (OpenEnv's own ``openenv init`` template
environment, rendered from the installed package) with ``GenericEnvClient``. For 1 and 16
concurrent sessions, each session resets once and then times ``--steps`` sequential steps; the
table reports per-step latency (median, p90, p99) and aggregate steps per second. Case ``echo``
is the OpenEnv echo env; ``VIEW_CODE`` and ``RUN_TESTS`` are TraceFix steps on ``task2_medium``.

Usage (results also go to ``bench/results/server_ws_roundtrip.json`` unless ``--json`` is given)::

    python bench/bench_server.py [--quick] [--json results.json] [--no-record]

The client shares the machine with the servers, so the numbers include its CPU cost too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_ECHO_RUNNER = '''
import sys
import uvicorn
from openenv.core.env_server.http_server import create_app
from echo_env.models import EchoAction, EchoObservation
from echo_env.server.echo_environment import EchoEnvironment

app = create_app(EchoEnvironment, EchoAction, EchoObservation, env_name="echo", max_concurrent_envs=64)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render_echo_env(dest: Path) -> None:
    """Write OpenEnv's template echo environment (models + environment) as package ``echo_env``."""
    import openenv.cli.templates as templates

    src = Path(templates.__file__).parent / "openenv_env"
    subs = {"__ENV_CLASS_NAME__": "Echo", "__ENV_TITLE_NAME__": "Echo", "__ENV_NAME__": "echo"}

    def render(text: str) -> str:
        for k, v in subs.items():
            text = text.replace(k, v)
        return text

    pkg = dest / "echo_env"
    (pkg / "server").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "server" / "__init__.py").write_text("")
    (pkg / "models.py").write_text(render((src / "models.py").read_text()))
    (pkg / "server" / "echo_environment.py").write_text(
        render((src / "server" / "__ENV_NAME___environment.py").read_text()))
    (dest / "run_echo.py").write_text(_ECHO_RUNNER)


@contextmanager
def _process(cmd: list[str], port: int, env: dict[str, str], cwd: Path, *, keep: bool = False):
    """Run ``cmd`` until the block exits; yields its URL once ``/health`` answers (and the process if ``keep``)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not start") from None
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        yield (url, proc) if keep else url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _first_line_of(task_name: str) -> str:
    """The first line of the task's buggy program (a REPLACE_LINES that keeps the program runnable)."""
    from tracefix_rl.data.tasks import get_task

    return get_task(task_name).buggy.splitlines()[0]


def _summary(latencies: list[float], wall: float) -> dict[str, float]:
    xs = sorted(latencies)

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

    return {"steps": len(xs), "median_ms": statistics.median(xs) * 1000, "p90_ms": q(0.90), "p99_ms": q(0.99),
            "steps_per_s": len(xs) / wall if wall else 0.0}


async def _measure(make_client, reset_kwargs: dict[str, Any], action: Any, sessions: int, steps: int,
                   warmup: int) -> dict[str, float]:
    clients = [make_client() for _ in range(sessions)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.reset(**reset_kwargs) for c in clients))
    latencies: list[float] = []

    async def run(c) -> None:
        for i in range(warmup + steps):
            t = time.perf_counter()
            result = await c.step(action)
            dt = time.perf_counter() - t
            if i >= warmup:
                latencies.append(dt)
            if result.done:  # never expected for these actions; keep the episode alive anyway
                await c.reset(**reset_kwargs)

    t0 = time.perf_counter()
    await asyncio.gather(*(run(c) for c in clients))
    wall = time.perf_counter() - t0
    await asyncio.gather(*(c.close() for c in clients))
    return _summary(latencies, wall)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run, ~20 s)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per session")
    p.add_argument("--json", type=Path, default=None, help="write the results to this file")
    p.add_argument("--no-record", action="store_true", help="run the TraceFix server with TRACEFIX_RECORD=0")
    args = p.parse_args(argv)

    from openenv.core.generic_client import GenericEnvClient

    from tracefix_rl import CodeAction, TraceFixRLEnv

    # Steps per session: the 16-session rows use fewer so each row takes similar time.
    steps_1 = args.steps or (30 if args.quick else 200)
    steps_16 = max(5, (args.steps or (10 if args.quick else 50)))
    warmup = 3 if args.quick else 10
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        _render_echo_env(tmpdir)
        base_env = {**os.environ, "PYTHONPATH": str(tmpdir), "PYTHONUNBUFFERED": "1"}
        base_env.pop("ENABLE_WEB_INTERFACE", None)
        tf_env = {**base_env, "TRACEFIX_DB": str(tmpdir / "bench.sqlite3")}
        if args.no_record:
            tf_env["TRACEFIX_RECORD"] = "0"
        tf_port, echo_port = _free_port(), _free_port()
        tf_cmd = [sys.executable, "-m", "tracefix_rl.server", "--host", "127.0.0.1", "--port", str(tf_port),
                  "--log-level", "warning"]
        echo_cmd = [sys.executable, str(tmpdir / "run_echo.py"), str(echo_port)]
        # A second TraceFix server with recording off, to separate transport from recording cost.
        nr_port = _free_port()
        nr_cmd = [*tf_cmd[:-3], str(nr_port), "--log-level", "warning"]
        nr_env = {**tf_env, "TRACEFIX_RECORD": "0"}
        with _process(tf_cmd, tf_port, tf_env, ROOT) as tf_url, _process(echo_cmd, echo_port, base_env, tmpdir) as echo_url, \
                _process(nr_cmd, nr_port, nr_env, ROOT) as nr_url:
            cases = [
                ("echo", lambda: GenericEnvClient(base_url=echo_url), {}, {"message": "hello"}),
                ("VIEW_CODE", lambda: TraceFixRLEnv(base_url=tf_url),
                 {"task_name": "task2_medium", "seed": 0}, CodeAction(action_type="VIEW_CODE")),
                ("RUN_TESTS", lambda: TraceFixRLEnv(base_url=tf_url),
                 {"task_name": "task2_medium", "seed": 0}, CodeAction(action_type="RUN_TESTS")),
            ]
            # The other actions of the per-action table (1 and 16 sessions as well).
            tf = (lambda: TraceFixRLEnv(base_url=tf_url), {"task_name": "task2_medium", "seed": 0})
            cases += [
                ("REPLACE_LINES", *tf, CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=1,
                                                  new_code_block=_first_line_of("task2_medium"))),
                ("UNDO_EDIT", *tf, CodeAction(action_type="UNDO_EDIT")),
                ("TRACE", *tf, CodeAction(action_type="TRACE")),
                ("SUBMIT", *tf, CodeAction(action_type="SUBMIT")),
                ("VIEW_CODE, recording off", lambda: TraceFixRLEnv(base_url=nr_url),
                 {"task_name": "task2_medium", "seed": 0}, CodeAction(action_type="VIEW_CODE")),
            ]
            for sessions, steps in ((1, steps_1), (16, steps_16)):
                for name, make, reset_kwargs, action in cases:
                    res = asyncio.run(_measure(make, reset_kwargs, action, sessions, steps, warmup))
                    rows.append({"case": name, "sessions": sessions, **res})
                    print(f"  measured {name} x{sessions}", file=sys.stderr, flush=True)

    from _common import emit

    for r in rows:
        r.update({k: round(v, 3) for k, v in r.items() if isinstance(v, float)})
    emit("server_ws_roundtrip", rows, {"quick": args.quick, "recording": not args.no_record,
                                       "steps_per_session": {"1": steps_1, "16": steps_16}}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
