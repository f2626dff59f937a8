"""In-process environment latency: reset, each action, and scripted-episode throughput.

    python bench/bench_env.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The environment alone; recording overhead is measured by bench_trajectory.py.
os.environ.setdefault("TRACEFIX_RECORD", "0")

from _common import emit, measure  # noqa: E402

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment  # noqa: E402
from tracefix_rl.agents import oracle_actions  # noqa: E402
from tracefix_rl.tasks import get_task  # noqa: E402

TASK = "binary_search_off_by_one"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    n_fast, n_exec = (300, 40) if args.quick else (3000, 300)

    env = TraceFixEnvironment(EnvConfig(max_steps=10**9))
    env.reset(task_name=TASK, seed=0)
    isolation = env.state.isolation
    rows = []

    def row(name, stats):
        rows.append({"operation": name, "median_ms": stats["median_ms"], "p99_ms": stats["p99_ms"], "n": stats["n"]})

    row("reset", measure(lambda: env.reset(task_name=TASK, seed=0), repeat=n_exec))
    env.reset(task_name=TASK, seed=0)
    view = CodeAction(action_type="VIEW_CODE")
    views = [CodeAction(action_type="VIEW_CODE", thought=str(i)) for i in range(2)]
    state = {"i": 0}

    def alternate_view():  # alternate the thought so the repeat detector sees distinct actions
        state["i"] ^= 1
        env.step(views[state["i"]])

    row("VIEW_CODE", measure(alternate_view, repeat=n_fast))
    edit = CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2, new_code_block="left = 0")
    undo = CodeAction(action_type="UNDO_EDIT")
    row("REPLACE_LINES", measure(lambda: env.step(edit), repeat=n_fast))
    row("UNDO_EDIT", measure(lambda: env.step(undo), repeat=n_fast))
    run = CodeAction(action_type="RUN_TESTS")
    row("RUN_TESTS", measure(lambda: env.step(run), repeat=n_exec))
    try:
        import tracefix_rl.trace  # noqa: F401

        trace = CodeAction(action_type="TRACE")
        row("TRACE", measure(lambda: env.step(trace), repeat=n_exec))
    except ImportError:
        pass

    def submit_episode():
        env.reset(task_name=TASK, seed=0)
        env.step(view)
        return env.step(CodeAction(action_type="SUBMIT"))

    row("SUBMIT (incl. reset+view)", measure(submit_episode, repeat=n_exec // 2))

    task = get_task(TASK)
    episodes = 20 if args.quick else 100
    t = time.perf_counter()
    for i in range(episodes):
        env.reset(task_name=TASK, seed=i)
        for a in oracle_actions(task):
            if env.step(a).done:
                break
    per_min = episodes / (time.perf_counter() - t) * 60
    emit("env_step_latency", rows, {"isolation": isolation, "scripted_episodes_per_minute": per_min,
                                    "task": TASK}, args.json)
    print(f"scripted oracle episodes per minute (1 process): {per_min:,.0f}")


if __name__ == "__main__":
    main()
