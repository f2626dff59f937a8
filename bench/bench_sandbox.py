"""Benchmark of the RUN_TESTS path: the isolated fork-server vs per-job interpreters vs pytest.

Runs the buggy ``binary_search_off_by_one`` program against its 4 visible tests through

* ``forkserver``: the sandbox :func:`tracefix_rl.engines.sandbox.get_sandbox` uses (2 workers),
* ``subprocess``: :class:`~tracefix_rl.engines.sandbox._subprocess.SubprocessSandbox` (fresh
  ``python -S -s`` per job, rlimits only), and
* ``python -S -I``: a fresh ``python -S -I`` interpreter per run that executes the same program
  and test calls and prints their results (no isolation at all: the interpreter start-up floor),
  and
* ``pytest``: what peer environments do, ``subprocess`` + ``python -m pytest`` on an equivalent
  generated test file, without third-party plugins (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``),

all in the same run, and reports p50/p99 latency (one caller) and throughput (2 concurrent
callers), with ratios against the fork-server. Usage::

    .venv/bin/python bench/bench_sandbox.py [--quick] [--json out.json]

The JSON goes to ``bench/results/sandbox_run_tests.json`` unless ``--json`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import RUN_CALLS, latency, make_pytest_job, percentile, save_json, throughput  # noqa: E402

from tracefix_rl.data.tasks import get_task  # noqa: E402
from tracefix_rl.engines.sandbox import Limits, Outcome  # noqa: E402
from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox  # noqa: E402
from tracefix_rl.engines.sandbox._subprocess import SubprocessSandbox  # noqa: E402

TASK = "binary_search_off_by_one"


def make_sandbox_job(sandbox: Any, payload: dict[str, Any]) -> Callable[[], None]:
    """One RUN_TESTS job through ``sandbox``, checked for 4 test records."""
    limits = Limits()

    def job() -> None:
        ex = sandbox.execute("tests", payload, limits)
        if ex.outcome is not Outcome.OK or sum(r.get("kind") == "test" for r in ex.records) != 4:
            raise RuntimeError(f"unexpected result: {ex}")

    return job


_FRESH_RUNNER = "import json, sys\n" + RUN_CALLS + "sys.stdout.write(json.dumps(run_calls(json.loads(sys.stdin.read()))))\n"


def make_fresh_interpreter_job(payload: dict[str, Any]) -> Callable[[], None]:
    """A fresh ``python -S -I`` per run executing the program and test calls (no isolation)."""
    cmd = [sys.executable, "-S", "-I", "-c", _FRESH_RUNNER]
    data = json.dumps(payload).encode()

    def job() -> None:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
        if proc.returncode != 0 or len(json.loads(proc.stdout)) != len(payload["tests"]):
            raise RuntimeError(proc.stderr.decode()[-500:])

    return job


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, and return (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 60 s)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "sandbox_run_tests.json",
                        help="write the results as JSON here (default: bench/results/sandbox_run_tests.json)")
    args = parser.parse_args(argv)

    task = get_task(TASK)
    payload = {"source": task.buggy, "tests": [t.to_payload() for t in task.tests]}
    counts = {"forkserver": (300, 150), "subprocess": (40, 20), "python -S -I": (40, 20), "pytest": (8, 4)} \
        if args.quick else \
        {"forkserver": (2000, 1000), "subprocess": (200, 100), "python -S -I": (200, 100), "pytest": (40, 20)}

    fork = ForkServerSandbox(workers=2)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tracefix-bench-") as tmp:
        runners = {
            "forkserver": (make_sandbox_job(fork, payload), fork.isolation),
            "subprocess": (make_sandbox_job(SubprocessSandbox(), payload), "subprocess (rlimits only)"),
            "python -S -I": (make_fresh_interpreter_job(payload), "none (fresh python -S -I per run)"),
            "pytest": (make_pytest_job(Path(tmp), task), "none (subprocess + plain python -m pytest, no plugins)"),
        }
        try:
            for name, (job, isolation) in runners.items():
                n_lat, n_thr = counts[name]
                samples = latency(job, n_lat, warmup=max(2, n_lat // 20))
                if name == "forkserver":
                    # An agent thinks between RUN_TESTS calls; with any gap the server has the
                    # next child forked and confined before the request arrives.
                    gapped = latency(job, n_lat // 2, warmup=2, gap_s=0.005)
                    rows["forkserver, 5 ms between calls"] = {
                        "isolation": isolation, "n": n_lat // 2,
                        "p50_ms": statistics.median(gapped), "p99_ms": percentile(gapped, 0.99),
                        "mean_ms": statistics.fmean(gapped), "throughput_2_callers_per_s": None,
                    }
                rows[name] = {
                    "isolation": isolation, "n": n_lat,
                    "p50_ms": statistics.median(samples), "p99_ms": percentile(samples, 0.99),
                    "mean_ms": statistics.fmean(samples),
                    "throughput_2_callers_per_s": throughput(job, n_thr),
                }
        finally:
            fork.close()
    base = rows["forkserver"]
    for row in rows.values():
        row["p50_ratio_vs_forkserver"] = row["p50_ms"] / base["p50_ms"]
        thr = row["throughput_2_callers_per_s"]
        row["throughput_ratio_vs_forkserver"] = thr / base["throughput_2_callers_per_s"] if thr else None
    result = {
        "task": TASK, "tests": len(payload["tests"]), "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "loadavg_1m": os.getloadavg()[0]},
        "runners": rows,
        "isolation": base["isolation"],
        "forkserver_runs_per_minute_2_callers": base["throughput_2_callers_per_s"] * 60,
    }
    _print_table(result)
    save_json(args.json, result)
    return result


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"RUN_TESTS on {result['task']} ({result['tests']} tests), "
                        f"{result['machine']['cpus']} CPUs, load {result['machine']['loadavg_1m']:.2f}")
    for col in ("runner", "isolation", "n", "p50 ms", "p99 ms", "jobs/s (2 callers)", "p50 × forkserver",
                "throughput ÷ forkserver"):
        table.add_column(col, justify="left" if col in ("runner", "isolation") else "right")
    for name, row in result["runners"].items():
        thr = row["throughput_2_callers_per_s"]
        table.add_row(name, row["isolation"], str(row["n"]), f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
                      f"{thr:.0f}" if thr else "–", f"{row['p50_ratio_vs_forkserver']:.2f}×",
                      f"{row['throughput_ratio_vs_forkserver']:.3f}" if thr else "–")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
