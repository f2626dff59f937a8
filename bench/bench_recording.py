"""What trajectory recording costs a busy server: cheap steps with recording on and off.

    python bench/bench_recording.py [--quick] [--sessions N] [--seconds S] [--json PATH]
                                    [--before DIR]

For each source tree (this checkout, and with ``--before DIR`` another one, e.g. an older
commit, measured in the same run) two servers run on loopback, one recording (its default,
``synchronous=NORMAL``) and one with ``TRACEFIX_RECORD=0``. ``N`` WebSocket sessions (default
16) then send cheap steps (VIEW_CODE, REPLACE_LINES rewriting a line with its own text,
UNDO_EDIT) as fast as they are answered for ``S`` seconds. Reported per tree: steps/s with
recording on and off, the throughput recording costs (``1 - on/off``), and the server's CPU
time per step (``/proc/PID/stat``) on and off, whose difference is the CPU one recorded step
costs. The runs alternate (off, on, off, on) so machine noise hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402
from bench_server import _free_port, _process  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(url: str, sessions: int, seconds: float) -> int:
    """Cheap steps from ``sessions`` sessions for ``seconds``; returns the steps answered."""
    import websockets

    done = 0
    deadline = time.monotonic() + seconds

    async def one(i: int) -> None:
        nonlocal done
        rng = random.Random(i)
        async with websockets.connect(url.replace("http://", "ws://") + "/ws", max_size=None,
                                      ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "reset", "data": {"task_name": "task2_medium", "seed": i}}))
            lines = json.loads(await ws.recv())["data"]["observation"]["code_dict"]
            while time.monotonic() < deadline:
                kind = rng.choice(["VIEW_CODE", "REPLACE_LINES", "UNDO_EDIT"])
                action: dict[str, Any] = {"action_type": kind}
                if kind == "REPLACE_LINES":
                    n = rng.randint(1, len(lines))
                    action.update(start_line=n, end_line=n, new_code_block=lines[str(n)])
                await ws.send(json.dumps({"type": "step", "data": action}))
                reply = json.loads(await ws.recv())
                if reply.get("type") != "observation":
                    raise RuntimeError(reply)
                done += 1
                if reply["data"]["done"]:
                    await ws.send(json.dumps({"type": "reset", "data": {"task_name": "task2_medium"}}))
                    await ws.recv()

    await asyncio.gather(*(one(i) for i in range(sessions)))
    return done


def measure(tree: Path | None, record: bool, sessions: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """One server (``tree`` on PYTHONPATH, recording on or off): steps/s and CPU per step."""
    port = _free_port()
    env = {**os.environ, "TRACEFIX_DB": str(tmp / f"rec-{port}.sqlite3"), "PYTHONUNBUFFERED": "1"}
    env.pop("ENABLE_WEB_INTERFACE", None)
    env["TRACEFIX_RECORD"] = "1" if record else "0"
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, "-m", "tracefix_rl.server", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--max-sessions", str(sessions + 8)]
    with _process(cmd, port, env, tree or ROOT, keep=True) as (url, proc):
        asyncio.run(drive(url, sessions, min(2.0, seconds / 4)))  # warm-up
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        steps = asyncio.run(drive(url, sessions, seconds))
        wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
    return {"steps": steps, "steps_per_s": steps / wall, "server_cpu_ms_per_step": 1000 * cpu / steps}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the table, write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 s per run")
    p.add_argument("--sessions", type=int, default=16)
    p.add_argument("--seconds", type=float, default=None, help="seconds per run (default 15)")
    p.add_argument("--rounds", type=int, default=None, help="off/on pairs per tree (default 2)")
    p.add_argument("--before", type=Path, default=None, help="also measure this source tree")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    rounds = args.rounds or (1 if args.quick else 2)
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.before:
        trees.insert(0, (f"before ({args.before.name})", args.before.resolve()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, tree in trees:
            runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
            for _ in range(rounds):
                for record in (False, True):
                    runs[record].append(measure(tree, record, args.sessions, seconds, Path(tmp)))
                    print(f"  {label} record={record}: {runs[record][-1]}", file=sys.stderr, flush=True)
            off = {k: sum(r[k] for r in runs[False]) / rounds for k in ("steps_per_s", "server_cpu_ms_per_step")}
            on = {k: sum(r[k] for r in runs[True]) / rounds for k in ("steps_per_s", "server_cpu_ms_per_step")}
            rows.append({"tree": label, "sessions": args.sessions, "steps_per_s_recording_off": round(off["steps_per_s"], 1),
                         "steps_per_s_recording_on": round(on["steps_per_s"], 1),
                         "recording_cost_pct": round(100 * (1 - on["steps_per_s"] / off["steps_per_s"]), 1),
                         "server_cpu_ms_per_step_off": round(off["server_cpu_ms_per_step"], 3),
                         "server_cpu_ms_per_step_on": round(on["server_cpu_ms_per_step"], 3),
                         "cpu_ms_per_recorded_step": round(on["server_cpu_ms_per_step"] - off["server_cpu_ms_per_step"],
                                                           3)})
    emit("recording", rows, {"quick": args.quick, "seconds_per_run": seconds, "rounds": rounds}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
