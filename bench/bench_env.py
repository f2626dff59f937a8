"""In-process environment latency: reset, each action, and scripted-episode throughput.

    python bench/bench_env.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The environment alone; recording overhead is measured by bench_trajectory.py.
os.environ.setdefault("TRACEFIX_RECORD", "0")

from _common import emit, measure  # noqa: E402

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment  # noqa: E402
from tracefix_rl.agents import oracle_actions  # noqa: E402
from tracefix_rl.data.tasks import get_task  # noqa: E402

TASK = "binary_search_off_by_one"


_undo_stats: list[dict] = []


def _stats(samples: list[float]) -> dict:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
    return {"median_ms": statistics.median(samples), "p99_ms": p99, "mean_ms": statistics.fmean(samples),
            "n": len(samples)}


def paired(first: Callable[[], object], second: Callable[[], object], n: int, warmup: int = 10) -> dict:
    """Time ``first`` and ``second`` alternately; returns ``first``'s stats, ``second``'s go to ``_undo_stats``."""
    a, b = [], []
    for i in range(warmup + n):
        t = time.perf_counter()
        first()
        t1 = time.perf_counter()
        second()
        t2 = time.perf_counter()
        if i >= warmup:
            a.append((t1 - t) * 1000)
            b.append((t2 - t1) * 1000)
    stats_b = _stats(b)
    _undo_stats.append({"median_ms": stats_b["median_ms"], "p99_ms": stats_b["p99_ms"], "n": stats_b["n"]})
    return _stats(a)


def timed_after(setup: Callable[[], object], fn: Callable[[], object], n: int, warmup: int = 3) -> dict:
    """Time ``fn`` only, with an untimed ``setup`` before each call."""
    samples = []
    for i in range(warmup + n):
        setup()
        t = time.perf_counter()
        fn()
        if i >= warmup:
            samples.append((time.perf_counter() - t) * 1000)
    return _stats(samples)


def main() -> None:
    """Run the benchmark, print the table, write JSON."""
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
    # A different text on every REPLACE_LINES, so no cache keyed by program text can help it;
    # each UNDO_EDIT returns to the program text before its edit (as an agent's undo does).
    edits = [CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2, new_code_block=f"left = 0 * {i}")
             for i in range(n_fast + 10)]
    undo = CodeAction(action_type="UNDO_EDIT")
    counter = {"i": 0}

    def replace():
        counter["i"] += 1
        env.step(edits[counter["i"] % len(edits)])

    row("REPLACE_LINES", paired(replace, lambda: env.step(undo), n_fast))
    env.reset(task_name=TASK, seed=0)
    rows.append(dict(rows[-1], operation="UNDO_EDIT", **_undo_stats.pop()))
    run = CodeAction(action_type="RUN_TESTS")
    row("RUN_TESTS", measure(lambda: env.step(run), repeat=n_exec))
    try:
        import tracefix_rl.engines.trace  # noqa: F401

        trace = CodeAction(action_type="TRACE")
        row("TRACE", measure(lambda: env.step(trace), repeat=n_exec))
    except ImportError:
        pass

    submit = CodeAction(action_type="SUBMIT")

    def fresh_episode():
        env.reset(task_name=TASK, seed=0)
        env.step(view)

    row("SUBMIT", timed_after(fresh_episode, lambda: env.step(submit), n_exec))

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
