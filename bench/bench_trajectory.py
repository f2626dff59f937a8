"""Trajectory recording overhead per step, and replay verification speed.

    python bench/bench_trajectory.py [--quick] [--json PATH]

Overhead: the same cheap actions (VIEW_CODE, REPLACE_LINES) on an environment without a
recorder, with an :class:`SQLiteRecorder` in its default ``synchronous=NORMAL`` mode (durable
against a killed process) and in ``FULL`` mode (fsync per step). Replay: random-policy episodes are recorded and then replayed
with full verification; steps/s covers environment, sandbox and checks.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["TRACEFIX_RECORD"] = "0"  # never touch the default store from a benchmark
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, measure  # noqa: E402

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment  # noqa: E402
from tracefix_rl.agents.random_policy import RandomPolicy  # noqa: E402
from tracefix_rl.data.trajectories import SQLiteRecorder  # noqa: E402
from tracefix_rl.engines.sandbox import Limits  # noqa: E402
from tracefix_rl.env import RecordEpisodes
from tracefix_rl.env.replay import replay

TASK = "binary_search_off_by_one"
CHEAP = {"VIEW_CODE": 0.3, "REPLACE_LINES": 0.4, "RUN_TESTS": 0.04, "UNDO_EDIT": 0.16,
         "RESET_TO_ORIGINAL": 0.03, "INVALID": 0.07}
LIMITS = Limits(wall_s=3.0, per_test_s=0.3)


def overhead_rows(tmp: Path, n: int) -> list[dict]:
    """Median/p99 step latency per action and recording mode, and the overhead vs no recorder."""
    recorders = {"none": None, "sqlite FULL": SQLiteRecorder(tmp / "full.sqlite3", synchronous="FULL"),
                 "sqlite NORMAL": SQLiteRecorder(tmp / "normal.sqlite3", synchronous="NORMAL")}
    actions = {
        "VIEW_CODE": [CodeAction(action_type="VIEW_CODE", thought=str(i)) for i in range(2)],
        # A new text on every edit (no cache keyed by program text helps), as an agent's edits are.
        "REPLACE_LINES": [CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2,
                                     new_code_block=f"left = 0 * {i}", thought="bench") for i in range(n + 40)],
    }
    rows = []
    for name, pair in actions.items():
        base = None
        for mode, rec in recorders.items():
            bare = TraceFixEnvironment(EnvConfig(max_steps=10**9))
            env = bare if rec is None else RecordEpisodes(bare, rec)
            env.reset(task_name=TASK, seed=0)
            state = {"i": 0}

            def step(env=env, pair=pair, state=state) -> None:
                state["i"] += 1
                env.step(pair[state["i"] % len(pair)])

            stats = measure(step, repeat=n, warmup=20)
            if base is None:
                base = stats
            rows.append({"action": name, "recording": mode, "median_ms": stats["median_ms"],
                         "p99_ms": stats["p99_ms"], "overhead_median_ms": stats["median_ms"] - base["median_ms"],
                         "overhead_mean_ms": stats["mean_ms"] - base["mean_ms"], "n": stats["n"]})
    for rec in recorders.values():
        if rec is not None:
            rec.close()
    return rows


def replay_rows(tmp: Path, episodes: int) -> list[dict]:
    """Record random-policy episodes (cheap-heavy 200 steps, and a test-heavy mix), replay them."""
    rec = SQLiteRecorder(tmp / "replay.sqlite3")
    rows = []
    for label, weights, steps in (("cheap mix, 200 steps", CHEAP, 200), ("default mix, 50 steps", None, 50)):
        ids, record_s = [], 0.0
        for i in range(episodes):
            env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=steps, limits=LIMITS)), rec)
            policy = RandomPolicy(i, weights=weights, submit_prob=0.0)
            obs = env.reset(task_name=TASK, seed=i)
            t = time.perf_counter()
            while not obs.done:
                obs = env.step(policy.act(obs))
            record_s += time.perf_counter() - t
            ids.append(obs.episode_id)
        total, seconds, verified = 0, 0.0, 0
        for eid in ids:
            report = replay(eid, db=rec.path)
            total += report.steps_checked
            seconds += report.seconds
            verified += report.verified
        rows.append({"episodes": f"{label} x{episodes}", "verified": f"{verified}/{episodes}",
                     "steps": total, "record_steps_per_s": total / record_s,
                     "replay_steps_per_s": total / seconds, "replay_s": seconds})
    rec.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    n, episodes = (300, 2) if args.quick else (2000, 6)
    with tempfile.TemporaryDirectory(prefix="tracefix-bench-") as d:
        tmp = Path(d)
        over = overhead_rows(tmp, n)
        rep = replay_rows(tmp, episodes)
        emit("trajectory_recording_overhead", over, {"task": TASK}, args.json)
        emit("trajectory_replay_speed", rep, {"task": TASK},
             str(Path(args.json).with_suffix(".replay.json")) if args.json else None)


if __name__ == "__main__":
    main()
