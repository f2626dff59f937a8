"""Benchmark of fairness in the sandbox pool: hostile sessions, and callers beyond the workers.

Two parts, each against an anchor measured in the same run:

* ``hostile``: four sessions run RUN_TESTS on the benchmark task (the buggy
  ``binary_search_off_by_one`` against its 4 visible tests) back to back for a window, first
  alone (the baseline), then while two other sessions run hostile programs continuously
  (cycling: sleep until the wall-clock limit, spin until it, fork bomb plus 64 spinning
  threads). Reported: the four sessions' throughput under attack as a ratio of the baseline
  (target >= 1/3) and their latency p99 under attack (target < 1 s).
* ``callers``: 4, 8 and 16 callers (each its own session) call back to back for a window.
  Reported per caller count: the worst time a job waited for a worker against the median job
  time in that run (a job's time once it has a worker; target <= 10x) and against a job on
  an idle pool, the fewest and most runs a caller got (equal shares), throughput.

Usage::

    .venv/bin/python bench/bench_fairness.py [--quick] [--json out.json] [--code DIR]

``--code DIR`` imports ``tracefix_rl`` from another checkout (e.g. a ``git worktree`` of an
older commit) to measure it the same way. The JSON goes to ``bench/results/fairness.json``
unless ``--json`` says otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import percentile, save_json  # the bench directory is the script's own


def _setup_path(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    code = args[args.index("--code") + 1] if "--code" in args else str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, code)


TASK = "binary_search_off_by_one"
HOSTILE = {
    "sleep": "import time\ndef binary_search(arr, target):\n    time.sleep(60)\n",
    "spin": "def binary_search(arr, target):\n    while True:\n        pass\n",
    "fork bomb": (
        "import os, threading\n"
        "def spin():\n    while True:\n        pass\n"
        "def binary_search(arr, target):\n"
        "    try:\n        while True:\n            os.fork()\n    except OSError:\n        pass\n"
        "    for _ in range(1000):\n"
        "        try:\n            threading.Thread(target=spin, daemon=True).start()\n"
        "        except RuntimeError:\n            break\n"
        "    spin()\n"
    ),
}


class Runner:
    """Calls the sandbox with an owner when the code under test supports one."""

    def __init__(self, sandbox: Any, limits_cls: Any, outcome_cls: Any, task: Any) -> None:
        self.sandbox = sandbox
        self.limits = limits_cls()
        self.ok = outcome_cls.OK
        self.payload = {"source": task.buggy, "tests": [t.to_payload() for t in task.tests]}
        self.with_owner = "owner" in inspect.signature(sandbox.execute).parameters

    def call(self, payload: dict[str, Any], owner: str) -> Any:
        if self.with_owner:
            return self.sandbox.execute("tests", payload, self.limits, owner=owner)
        return self.sandbox.execute("tests", payload, self.limits)

    def good(self, owner: str) -> tuple[float, float]:
        """One RUN_TESTS job: (latency ms, wait ms or nan when the executor does not report it)."""
        started = time.perf_counter()
        ex = self.call(self.payload, owner)
        latency = (time.perf_counter() - started) * 1000
        if ex.outcome is not self.ok or sum(r.get("kind") == "test" for r in ex.records) != 4:
            raise RuntimeError(f"unexpected result: {ex.outcome} {ex.detail} {ex.stderr[-300:]}")
        return latency, float(getattr(ex, "queued_ms", float("nan")))


def _run_callers(runner: Runner, owners: list[str], window_s: float, median_job_ms: float,
                 hostile: list[str] | None = None) -> dict[str, Any]:
    """``owners`` call back to back for ``window_s`` (while ``hostile`` owners attack: they start
    half a second earlier, so the window measures an attack in progress).

    A job still waiting when the window ends counts too: its wait is known when it finishes.
    """
    stop = threading.Event()
    go = threading.Event()
    lat: dict[str, list[tuple[float, float]]] = {o: [] for o in owners}
    waits: list[float] = []
    hostile_runs: dict[str, int] = {}
    errors: list[BaseException] = []

    def good(owner: str) -> None:
        go.wait()
        try:
            while not stop.is_set():
                ms, wait = runner.good(owner)
                if wait != wait:  # not reported by this executor: latency minus a job's time
                    wait = max(0.0, ms - median_job_ms)
                waits.append(wait)  # including the one that ends after the window
                if not stop.is_set():
                    lat[owner].append((ms, wait))
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    def bad(owner: str) -> None:
        programs = list(HOSTILE.values())
        i = 0
        while not stop.is_set():
            ex = runner.call({**runner.payload, "source": programs[i % len(programs)]}, owner)
            hostile_runs[ex.outcome.value] = hostile_runs.get(ex.outcome.value, 0) + 1
            i += 1

    attackers = [threading.Thread(target=bad, args=(o,)) for o in hostile or []]
    for t in attackers:
        t.start()
    if attackers:
        time.sleep(0.5)
    threads = [threading.Thread(target=good, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    go.set()
    started = time.perf_counter()
    time.sleep(window_s)
    stop.set()
    elapsed = time.perf_counter() - started
    for t in threads + attackers:
        t.join()
    if errors:
        raise errors[0]
    every = [ms for o in owners for ms, _ in lat[o]]
    service = [ms - wait for o in owners for ms, wait in lat[o]]  # a job's own time, once it had a worker
    runs = [len(lat[o]) for o in owners]
    return {
        "callers": len(owners), "seconds": round(elapsed, 2), "jobs": len(every),
        "jobs_per_s": len(every) / elapsed,
        "p50_ms": statistics.median(every) if every else None,
        "p99_ms": percentile(every, 0.99) if every else None,
        "max_ms": max(every) if every else None,
        "worst_wait_ms": max(waits) if waits else None,
        "median_service_ms": statistics.median(service) if service else median_job_ms,
        "min_runs_per_caller": min(runs), "max_runs_per_caller": max(runs),
        "hostile_outcomes": hostile_runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both parts, print the tables, and return (and write) the results."""
    _setup_path(argv)
    from tracefix_rl.data.tasks import get_task
    from tracefix_rl.engines.sandbox import Limits, Outcome
    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows (about 30 s in total)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "fairness.json")
    parser.add_argument("--code", default=None, help="import tracefix_rl from this checkout instead")
    args = parser.parse_args(argv)
    window = 4.0 if args.quick else 20.0
    callers_window = 3.0 if args.quick else 8.0
    caller_counts = (4, 8, 16)

    task = get_task(TASK)
    sandbox = ForkServerSandbox()
    try:
        runner = Runner(sandbox, Limits, Outcome, task)
        for _ in range(20):  # warm-up
            runner.good("warm-up")
        single = [runner.good("single")[0] for _ in range(60 if args.quick else 300)]
        median_job_ms = statistics.median(single)
        good = [f"session{i}" for i in range(4)]
        baseline = _run_callers(runner, good, window, median_job_ms)
        attacked = _run_callers(runner, good, window, median_job_ms, hostile=["hostile0", "hostile1"])
        callers = []
        for n in caller_counts:
            row = _run_callers(runner, [f"caller{i}" for i in range(n)], callers_window, median_job_ms)
            wait = row["worst_wait_ms"]
            row["worst_wait_x_median_job"] = wait / row["median_service_ms"]
            row["worst_wait_x_median_idle_job"] = wait / median_job_ms
            row["share_min_over_max"] = row["min_runs_per_caller"] / max(1, row["max_runs_per_caller"])
            callers.append(row)
        workers = sandbox.workers
        isolation = sandbox.isolation
    finally:
        sandbox.close()

    import tracefix_rl

    result = {
        "task": TASK, "quick": args.quick, "code": str(Path(tracefix_rl.__file__).resolve().parent.parent),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "loadavg_1m": os.getloadavg()[0]},
        "isolation": isolation, "workers": workers, "window_s": window, "callers_window_s": callers_window,
        "median_job_ms": median_job_ms,
        "hostile": {
            "baseline": baseline, "attacked": attacked,
            "throughput_ratio": attacked["jobs_per_s"] / baseline["jobs_per_s"],
            # None: not one job finished inside the window
            "p99_ms": attacked["p99_ms"],
            "p99_ratio_vs_baseline": attacked["p99_ms"] / baseline["p99_ms"] if attacked["p99_ms"] else None,
        },
        "callers": callers,
    }
    _print(result)
    save_json(args.json, result)
    return result


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    h = result["hostile"]
    console = Console(width=160)
    table = Table(title=f"4 sessions' RUN_TESTS ({result['task']}), {result['window_s']:.0f} s windows, "
                        f"{result['workers']} workers on {result['machine']['cpus']} CPUs, {result['isolation']}")
    for col in ("scenario", "jobs/s", "p50 ms", "p99 ms", "max ms", "hostile jobs"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    def ms(v: float | None, fmt: str = ".1f") -> str:
        return "none finished" if v is None else format(v, fmt)

    for name, row in (("alone (baseline)", h["baseline"]), ("+ 2 hostile sessions", h["attacked"])):
        table.add_row(name, f"{row['jobs_per_s']:.0f}", ms(row["p50_ms"]), ms(row["p99_ms"]),
                      ms(row["max_ms"], ".0f"), str(row["hostile_outcomes"] or "–"))
    console.print(table)
    console.print(f"throughput under attack / baseline: {h['throughput_ratio']:.2f} (target >= 0.33); "
                  f"p99 under attack {ms(h['p99_ms'], '.0f')} ms (target < 1000)")
    table = Table(title=f"callers beyond the workers: back to back for {result['callers_window_s']:.0f} s; "
                        f"median job {result['median_job_ms']:.2f} ms")
    for col in ("callers", "jobs/s", "p50 ms", "max ms", "median job ms", "worst wait ms",
                "worst wait / median job", "/ idle job", "runs per caller (min-max)"):
        table.add_column(col, justify="right")
    for row in result["callers"]:
        table.add_row(str(row["callers"]), f"{row['jobs_per_s']:.0f}", ms(row["p50_ms"]), ms(row["max_ms"], ".0f"),
                      f"{row['median_service_ms']:.1f}", f"{row['worst_wait_ms']:.0f}",
                      f"{row['worst_wait_x_median_job']:.1f}x", f"{row['worst_wait_x_median_idle_job']:.1f}x",
                      f"{row['min_runs_per_caller']}-{row['max_runs_per_caller']}")
    console.print(table)


if __name__ == "__main__":
    main()
