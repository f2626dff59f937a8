"""Soak: many concurrent WebSocket sessions against the real server for minutes.

    python bench/bench_soak.py [--quick] [--sessions N] [--minutes M] [--json PATH]
                               [--pythonpath DIR] [--api-key KEY]

Starts ``python -m tracefix_rl.server`` on loopback (trajectory store in a temporary file,
recording on, capacity ``N + 16``) and opens ``N`` sessions at once. Each plays episodes until
the time is up: reset (a random task and seed), then a seeded mix of VIEW_CODE, REPLACE_LINES
(rewrites a line with its own text, so programs stay runnable), UNDO_EDIT, RUN_TESTS, TRACE and
SUBMIT (which ends the episode; the budget ends it too), resetting after every end. The server's
RSS is sampled every few seconds.

Reported: sessions, episodes, steps, steps/s, p50/p99 latency per action, errors (error frames,
closed sockets, steps whose observation reports an infrastructure error), RSS over time and
its growth after warm-up (the first ``--warmup`` fraction of the run), and, once the server
has stopped, the store's check: every step whose observation was returned must be in the store
(``lost steps``), ``PRAGMA integrity_check``, and bytes per stored step.
``--quick`` is 16 sessions for 15 s; the full run is ``--sessions 512 --minutes 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402
from bench_server import _free_port, _process  # noqa: E402

TASKS = ["task1_easy", "task2_medium", "task3_hard", "binary_search_off_by_one", "reverse_string_returns_original"]
MIX = {"VIEW_CODE": 0.30, "REPLACE_LINES": 0.25, "UNDO_EDIT": 0.15, "RUN_TESTS": 0.18, "TRACE": 0.06,
       "SUBMIT": 0.06}


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Soak:
    """Drives the sessions and keeps every count."""

    def __init__(self, url: str, sessions: int, seconds: float, headers: dict[str, str], seed: int) -> None:
        self.url = url.replace("http://", "ws://") + "/ws"
        self.sessions, self.seconds, self.headers = sessions, seconds, headers
        self.rng = random.Random(seed)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.returned: set[tuple[str, int]] = set()
        self.episodes: set[str] = set()
        self.errors: list[str] = []
        self.infra = 0
        self.steps = 0
        self.deadline = 0.0

    async def _call(self, ws: Any, message: dict[str, Any], label: str) -> dict[str, Any] | None:
        t = time.perf_counter()
        await ws.send(json.dumps(message))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 300))
        self.latency[label].append(time.perf_counter() - t)
        if reply.get("type") == "error":
            self.errors.append(f"{label}: {reply['data'].get('message', '')[:200]}")
            return None
        return reply["data"]

    async def session(self, i: int) -> None:
        import websockets

        rng = random.Random(self.rng.random())
        await asyncio.sleep(rng.random() * 2)  # do not open hundreds of sockets in one instant
        try:
            async with websockets.connect(self.url, max_size=None, open_timeout=120, ping_interval=None,
                                          additional_headers=self.headers) as ws:
                while time.monotonic() < self.deadline:
                    data = await self._call(ws, {"type": "reset", "data": {"task_name": rng.choice(TASKS),
                                                                           "seed": rng.randrange(10**6)}}, "reset")
                    if data is None:
                        continue
                    obs = data["observation"]
                    self.episodes.add(obs["episode_id"])
                    lines = obs["code_dict"]
                    done = False
                    while not done and time.monotonic() < self.deadline:
                        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
                        action: dict[str, Any] = {"action_type": kind}
                        if kind == "REPLACE_LINES":
                            n = rng.randint(1, len(lines))
                            action.update(start_line=n, end_line=n, new_code_block=lines[str(n)],
                                          thought=f"soak {i}")
                        data = await self._call(ws, {"type": "step", "data": action}, kind)
                        if data is None:
                            continue
                        obs = data["observation"]
                        self.steps += 1
                        self.returned.add((obs["episode_id"], obs["step_count"]))
                        self.infra += bool(obs.get("infra_error"))
                        lines = obs["code_dict"] or lines
                        done = bool(data.get("done"))
        except Exception as exc:
            self.errors.append(f"session {i}: {type(exc).__name__}: {exc}"[:300])


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else 0.0


def check_store(db: Path, returned: set[tuple[str, int]], episodes: set[str]) -> dict[str, Any]:
    """Lost steps, integrity check and size per step of the store after the server stopped."""
    conn = sqlite3.connect(db)
    try:
        stored = set(conn.execute("SELECT episode_id, step FROM steps").fetchall())
        stored_eps = {r[0] for r in conn.execute("SELECT episode_id FROM episodes")}
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        n_steps = conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
        cols = [r[1] for r in conn.execute("PRAGMA table_info(steps)")]
        obs_bytes = None
        if "observation" in cols:
            obs_bytes = conn.execute("SELECT AVG(LENGTH(observation)) FROM steps").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0] * conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    return {"lost_steps": len(returned - stored), "missing_episodes": len(episodes - stored_eps),
            "integrity_check": integrity, "stored_steps": n_steps,
            "db_bytes_per_step": round(page / n_steps, 1) if n_steps else None,
            "observation_bytes_per_step": round(obs_bytes, 1) if obs_bytes else None}


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the table, write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="16 sessions for 15 s")
    p.add_argument("--sessions", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--warmup", type=float, default=0.2, help="fraction of the run counted as warm-up")
    p.add_argument("--pythonpath", default=None, help="run the server from this source tree")
    p.add_argument("--api-key", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    sessions = args.sessions or (16 if args.quick else 512)
    seconds = 60 * args.minutes if args.minutes else (15.0 if args.quick else 600.0)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "soak.sqlite3"
        port = _free_port()
        env = {**os.environ, "TRACEFIX_DB": str(db), "PYTHONUNBUFFERED": "1"}
        env.pop("ENABLE_WEB_INTERFACE", None)
        env.pop("TRACEFIX_RECORD", None)
        if args.pythonpath:
            env["PYTHONPATH"] = args.pythonpath
        if args.api_key:
            env["TRACEFIX_API_KEY"] = args.api_key
        cmd = [sys.executable, "-m", "tracefix_rl.server", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--max-sessions", str(sessions + 16)]
        soak = None
        samples: list[dict[str, float]] = []
        with _process(cmd, port, env, Path(args.pythonpath or ROOT), keep=True) as (url, proc):
            soak = Soak(url, sessions, seconds, headers, args.seed)

            async def run() -> None:
                started = time.monotonic()
                soak.deadline = started + seconds
                tasks = [asyncio.create_task(soak.session(i)) for i in range(sessions)]
                interval = max(1.0, min(10.0, seconds / 60))
                while not all(t.done() for t in tasks):
                    samples.append({"t_s": round(time.monotonic() - started, 1), "rss_mb": round(rss_mb(proc.pid), 1),
                                    "steps": soak.steps})
                    await asyncio.wait(tasks, timeout=interval)
                samples.append({"t_s": round(time.monotonic() - started, 1), "rss_mb": round(rss_mb(proc.pid), 1),
                                "steps": soak.steps, "after_close": True})

            t0 = time.perf_counter()
            asyncio.run(run())
            wall = time.perf_counter() - t0
            alive = proc.poll() is None
            proc.send_signal(signal.SIGINT)  # a graceful stop: uvicorn closes the app, the store stays consistent
            try:
                proc.wait(timeout=60)
            except Exception:
                proc.kill()
        store = check_store(db, soak.returned, soak.episodes)
    running = [s for s in samples if not s.get("after_close")]
    after_warmup = [s for s in running if s["t_s"] >= args.warmup * seconds]
    base = after_warmup[0]["rss_mb"] if after_warmup else None
    end = after_warmup[-1]["rss_mb"] if after_warmup else None  # the last sample with every session open
    peak = max((s["rss_mb"] for s in after_warmup), default=None)
    rows = [{"action": a, "n": len(xs), "p50_ms": round(statistics.median(xs) * 1000, 2),
             "p99_ms": round(_pct(xs, 0.99), 2)} for a, xs in sorted(soak.latency.items())]
    summary = {
        "sessions": sessions, "seconds": round(wall, 1), "episodes": len(soak.episodes), "steps": soak.steps,
        "steps_per_s": round(soak.steps / wall, 1) if wall else 0.0, "errors": len(soak.errors),
        "error_examples": soak.errors[:20], "infra_error_steps": soak.infra, "server_alive_at_end": alive,
        "rss_after_warmup_mb": base, "rss_end_mb": end, "rss_after_sessions_closed_mb": samples[-1]["rss_mb"], "rss_peak_after_warmup_mb": peak,
        "rss_growth_after_warmup_pct": round(100 * (end - base) / base, 2) if base and end else None,
        "rss_samples": samples, **store, "pythonpath": args.pythonpath,
    }
    emit("soak", rows, {"quick": args.quick, "summary": summary}, args.json)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("rss_samples",)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
