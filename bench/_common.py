"""Shared helpers for the benchmarks: timing statistics, machine details, table + JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
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
