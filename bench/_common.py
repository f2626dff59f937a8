"""Shared helpers for the benchmarks: timing statistics, machine details, table + JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """Cores, Python and kernel: recorded with every result."""
    return {"cores": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
            "machine": platform.machine()}


def measure(fn: Callable[[], Any], *, repeat: int, warmup: int = 5) -> dict[str, float]:
    """Run ``fn`` ``warmup + repeat`` times; return median/p99/mean in milliseconds (warm-up excluded)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
    return {"median_ms": statistics.median(samples), "p99_ms": p99, "mean_ms": statistics.fmean(samples),
            "n": len(samples)}


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency(job: Callable[[], None], n: int, warmup: int, gap_s: float = 0.0) -> list[float]:
    """Milliseconds per call of ``job`` (one caller), warm-up excluded; ``gap_s`` between calls."""
    for _ in range(warmup):
        job()
    samples = []
    for _ in range(n):
        if gap_s:
            time.sleep(gap_s)
        started = time.perf_counter()
        job()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def save_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON to ``path`` (creating its directory) and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")


def emit(name: str, rows: list[dict[str, Any]], extra: dict[str, Any], json_path: str | None) -> None:
    """Print ``rows`` as a table and write them (with machine details) as JSON."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=name)
    cols = list(rows[0]) if rows else []
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()])
    Console().print(table)
    out = {"benchmark": name, "machine": machine(), "rows": rows, **extra}
    path = Path(json_path) if json_path else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


#: Python source defining ``run_calls(job)``: execute ``job["source"]``, then each test's setup and
#: call, and return ``[status, repr-or-exception-name]`` per test. No isolation: the anchors'
#: runners (a fresh interpreter per run, a pre-forked lean child) share it.
RUN_CALLS = """
def run_calls(job):
    ns = {"__name__": "__main__"}
    exec(compile(job["source"], "program.py", "exec"), ns)
    out = []
    for t in job["tests"]:
        try:
            if t.get("setup"):
                exec(t["setup"], ns)
            out.append(["returned", repr(eval(t["call"], ns))])
        except Exception as exc:
            out.append(["raised", type(exc).__name__])
    return out
"""


def make_pytest_job(workdir: Path, task: Any, *, plugins: bool = False) -> Callable[[], None]:
    """What peers do per test run: ``subprocess`` + ``python -m pytest`` on a generated test file.

    Without ``plugins``, pytest runs as in a clean venv (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``):
    this project's venv installs plugins (hypothesis among them) whose import alone would
    multiply the figure. With ``plugins``, it runs as this venv runs it.
    """
    (workdir / "program.py").write_text(task.buggy)
    lines = ["from program import *", ""]
    for spec in task.tests:
        lines += [f"def {spec.name}():", f"    assert {spec.call} == {spec.expected}", ""]
    (workdir / "test_program.py").write_text("\n".join(lines))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_program.py"]
    env = dict(os.environ) if plugins else {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

    def job() -> None:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, timeout=120, env=env)
        if b"passed" not in proc.stdout and b"failed" not in proc.stdout:
            raise RuntimeError(proc.stdout.decode()[-500:] + proc.stderr.decode()[-500:])

    return job


def throughput(job: Callable[[], None], n_per_caller: int, callers: int = 2) -> float:
    """Jobs per second with ``callers`` threads calling ``job`` back to back."""
    barrier = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def caller() -> None:
        barrier.wait()
        try:
            for _ in range(n_per_caller):
                job()
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return callers * n_per_caller / elapsed
