"""Sandbox job latency of this checkout against an earlier commit, measured in the same run.

    .venv/bin/python bench/compare_sandbox.py --baseline 421d1c9 [--rounds 8] [--jobs 300] [--json out.json]

``--baseline`` is a git revision (checked out into a temporary ``git worktree``, removed at
the end) or a directory holding another checkout. Each round runs, for both checkouts in a
shuffled order, a fresh interpreter that starts ``ForkServerSandbox(workers=2)`` (the
configuration of ``bench_sandbox.py``), warms up, and times ``--jobs`` back-to-back RUN_TESTS
jobs on the benchmark task (the buggy ``binary_search_off_by_one`` against its 4 visible
tests), then the same with 5 ms between calls. Reported: the median over rounds of each
round's p50 (and p99), and the ratio this checkout / baseline. The two never run at the same
time, and alternating rounds spreads the machine's noise over both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import save_json

ROOT = Path(__file__).resolve().parent.parent

_PROBE = r"""
import json, statistics, sys
sys.path[:0] = [sys.argv[1], sys.argv[3]]  # tracefix_rl from the checkout under test, _common from here
from _common import latency, percentile
from tracefix_rl.engines.sandbox import Limits, Outcome
from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox
from tracefix_rl.data.tasks import get_task

task = get_task("binary_search_off_by_one")
payload = {"source": task.buggy, "tests": [t.to_payload() for t in task.tests]}
n = int(sys.argv[2])
out = {}
with ForkServerSandbox(workers=2) as sb:
    def job():
        ex = sb.execute("tests", payload, Limits())
        assert ex.outcome is Outcome.OK and sum(r.get("kind") == "test" for r in ex.records) == 4, ex
    for name, gap in (("back_to_back", 0.0), ("gap_5ms", 0.005)):
        samples = latency(job, n, warmup=30, gap_s=gap)
        out[name] = {"p50_ms": statistics.median(samples), "p99_ms": percentile(samples, 0.99)}
    out["isolation"] = sb.isolation
print(json.dumps(out))
"""


def _round(code: Path, jobs: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(code), str(jobs), str(ROOT / "bench")],
                          capture_output=True, text=True,
                          timeout=600, cwd="/", env={**os.environ, "PYTHONPATH": str(code)})
    if proc.returncode != 0:
        raise RuntimeError(f"probe of {code} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the rounds, print the comparison, and return (and write) it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="git revision or checkout directory to compare against")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=300, help="jobs timed per round and mode")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "compare_sandbox.json")
    args = ap.parse_args(argv)

    tmp = None
    base = Path(args.baseline)
    if not base.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix="tracefix-baseline-")) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tmp), args.baseline], cwd=ROOT, check=True)
        base = tmp
    samples: dict[str, list[dict[str, Any]]] = {"this": [], "baseline": []}
    try:
        for i in range(args.rounds):
            order = [("this", ROOT), ("baseline", base)]
            random.Random(i).shuffle(order)
            for name, code in order:
                samples[name].append(_round(code, args.jobs))
                print(f"round {i + 1}/{args.rounds} {name}: p50 {samples[name][-1]['back_to_back']['p50_ms']:.2f} ms",
                      flush=True)
    finally:
        if tmp is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(tmp)], cwd=ROOT, check=False)
    result: dict[str, Any] = {"baseline": args.baseline, "rounds": args.rounds, "jobs_per_round": args.jobs,
                              "loadavg_1m": os.getloadavg()[0], "modes": {}}
    for mode in ("back_to_back", "gap_5ms"):
        row = {}
        for name in ("this", "baseline"):
            row[f"{name}_p50_ms"] = statistics.median(s[mode]["p50_ms"] for s in samples[name])
            row[f"{name}_p99_ms"] = statistics.median(s[mode]["p99_ms"] for s in samples[name])
            row[f"{name}_isolation"] = samples[name][0]["isolation"]
        row["p50_ratio"] = row["this_p50_ms"] / row["baseline_p50_ms"]
        result["modes"][mode] = row
        print(f"{mode}: this {row['this_p50_ms']:.2f} ms ({row['this_isolation']}), baseline "
              f"{row['baseline_p50_ms']:.2f} ms ({row['baseline_isolation']}): p50 ratio {row['p50_ratio']:.3f}; "
              f"p99 {row['this_p99_ms']:.2f} vs {row['baseline_p99_ms']:.2f} ms")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
