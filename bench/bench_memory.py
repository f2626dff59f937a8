"""Memory per idle WebSocket session on the real server.

Starts ``python -m tracefix_rl.server`` (trajectory store in a temporary file), and measures
resident memory

* right after start-up (``cold``),
* after one session has connected, reset, stepped RUN_TESTS once and closed (``warm``: the
  sandbox's fork-servers are started lazily by the first job, and first-use imports are done),
* with ``N`` idle sessions open, each reset once (``N sessions``).

Two figures per point: the server process alone (``VmRSS`` from ``/proc/PID/status``), and the
whole process tree including the fork-servers and their pre-forked children, as the sum of
``VmRSS`` (double-counts shared pages) and as the sum of ``Pss`` from ``smaps_rollup``
(shared pages divided among the sharers; the honest total). MB per session is
``(N sessions - warm) / N`` on the server's own RSS.

Usage::

    python bench/bench_memory.py [--quick] [--sessions N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402
from bench_server import _free_port, _process  # noqa: E402

TASK = "task2_medium"


def _status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """``Pss`` of ``pid`` from ``/proc/PID/smaps_rollup`` (0 if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, grandchildren, ...), from ``/proc``."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def snapshot(pid: int) -> dict[str, float]:
    """Server RSS, and RSS / PSS summed over the server and all its descendants, in MB."""
    tree = [pid, *descendants(pid)]
    return {"server_rss_mb": _status_kb(pid, "VmRSS") / 1024,
            "tree_rss_mb": sum(_status_kb(p, "VmRSS") for p in tree) / 1024,
            "tree_pss_mb": sum(_pss_kb(p) for p in tree) / 1024,
            "processes": len(tree)}


def _settle() -> None:
    time.sleep(0.5)


async def _warm(url: str) -> None:
    from tracefix_rl import CodeAction, TraceFixRLEnv

    client = TraceFixRLEnv(base_url=url)
    await client.connect()
    await client.reset(task_name=TASK, seed=0)
    await client.step(CodeAction(action_type="RUN_TESTS"))
    await client.close()


async def _open(url: str, n: int) -> list[Any]:
    from tracefix_rl import TraceFixRLEnv

    clients = [TraceFixRLEnv(base_url=url) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.reset(task_name=TASK, seed=i) for i, c in enumerate(clients)))
    return clients


def measure_sessions(url: str, pid: int, n: int) -> list[dict[str, Any]]:
    """The cold / warm / ``n``-session snapshots (``n`` idle sessions held open on one loop)."""
    rows = [{"point": "cold (0 sessions)", "sessions": 0, **snapshot(pid)}]
    asyncio.run(_warm(url))
    _settle()
    rows.append({"point": "warm (0 sessions)", "sessions": 0, **snapshot(pid)})

    async def hold() -> dict[str, float]:
        clients = await _open(url, n)
        await asyncio.sleep(0.5)
        snap = snapshot(pid)
        await asyncio.gather(*(c.close() for c in clients))
        return snap

    rows.append({"point": f"{n} idle sessions", "sessions": n, **asyncio.run(hold())})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sessions", type=int, default=None, help="idle sessions to open (16 quick, 64 full)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    n = args.sessions or (16 if args.quick else 64)
    with tempfile.TemporaryDirectory(prefix="tracefix-bench-mem-") as tmp:
        env = {**os.environ, "TRACEFIX_DB": str(Path(tmp) / "bench.sqlite3"), "PYTHONUNBUFFERED": "1"}
        env.pop("ENABLE_WEB_INTERFACE", None)
        port = _free_port()
        cmd = [sys.executable, "-m", "tracefix_rl.server", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--max-sessions", str(max(n + 4, 64))]
        with _process(cmd, port, env, ROOT, keep=True) as (url, proc):
            _settle()
            rows = measure_sessions(url, proc.pid, n)
    warm, full = rows[1], rows[2]
    per_session = {key.replace("_mb", "_mb_per_session"): (full[key] - warm[key]) / n
                   for key in ("server_rss_mb", "tree_rss_mb", "tree_pss_mb")}
    for r in rows:
        r.update({k: round(v, 2) for k, v in r.items() if isinstance(v, float)})
    emit("server_memory", rows, {"sessions": n, "task": TASK, **per_session}, args.json)
    print(f"memory per idle session: server RSS {per_session['server_rss_mb_per_session']:.3f} MB, "
          f"whole tree PSS {per_session['tree_pss_mb_per_session']:.3f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
