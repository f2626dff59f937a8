"""Throughput of ``tracefix eval``: episodes per minute with the scripted model at 1, 2 and 4 workers.

    python bench/bench_eval.py [--quick] [--json PATH]

The model is the scripted OpenAI-compatible server of the test suite (``scripted-fix``, in its
own process: real HTTP on loopback, a reply in about a millisecond), so the figure is the
harness's own ceiling: the agent loop with the ``openai`` client, the in-process environment
with its sandbox jobs, trajectory recording into the run's SQLite file and ``results.jsonl``. Every worker count runs the same episodes (every
built-in task, ``--samples`` rollouts each) into a fresh output directory; the 1-worker run is
the anchor and each row reports its ratio to it. The model-free repair baseline is measured
at 1 worker as a second reference.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402

from tracefix_rl.evaluation import (  # noqa: E402
    EvalOptions,
    EvalRunner,
    ModelAgent,
    make_policy_agent,
    select_tasks,
)

WORKERS = (1, 2, 4)


def run_once(agent, tasks, samples: int, workers: int, root: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"eval-{agent.kind}-w{workers}-", dir=root))
    started = time.perf_counter()
    outcome = EvalRunner(agent, tasks, EvalOptions(output_dir=out, samples=samples, workers=workers)).run()
    seconds = time.perf_counter() - started
    report = outcome.report
    return {"agent": agent.kind if agent.kind != "llm" else "scripted model", "workers": workers,
            "episodes": report.total_episodes, "resolved": report.resolved_episodes,
            "not_counted": report.total_episodes - report.completed_episodes, "seconds": round(seconds, 2),
            "episodes_per_minute": round(60 * report.total_episodes / seconds, 1),
            "mean_steps": report.steps.get("mean")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 tasks, 1 sample (the CI smoke run)")
    ap.add_argument("--json", default=None, help="where to write the JSON result")
    args = ap.parse_args(argv)
    tasks = select_tasks()
    samples = 2
    if args.quick:
        tasks, samples = tasks[::5], 1
    script = HERE.parent / "tests" / "agents" / "scripted_model_server.py"
    server = subprocess.Popen([sys.executable, str(script), "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
            root = Path(tmp)
            model = ModelAgent(model="scripted-fix", base_url=base_url, api_key="bench", max_retries=0,
                               log=lambda _msg: None)
            run_once(model, tasks[:2], 1, 1, root)  # warm-up: sandbox pool, imports, first connection
            for workers in WORKERS:
                rows.append(run_once(model, tasks, samples, workers, root))
            rows.append(run_once(make_policy_agent("repair"), tasks, samples, 1, root))
    finally:
        server.terminate()
        server.wait(timeout=10)
    anchor = rows[0]["episodes_per_minute"]
    for row in rows:
        row["ratio_vs_1_worker"] = round(row["episodes_per_minute"] / anchor, 2) if row["agent"] != "repair" else None
    emit("eval", rows, {"tasks": len(tasks), "samples": samples, "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
