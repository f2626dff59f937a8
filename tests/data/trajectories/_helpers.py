"""Shared helpers: run seeded random-policy episodes into a real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tracefix_rl.agents.random_policy import RandomPolicy
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.data.trajectories import SQLiteRecorder
from tracefix_rl.engines.sandbox import Limits
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

#: Tight limits keep random edits that loop forever cheap (they are recorded in the manifest).
FAST_LIMITS = Limits(wall_s=3.0, per_test_s=0.3)
#: Mostly cheap actions, some test runs: a long episode stays fast even with a 50 ms sandbox.
CHEAP = {"VIEW_CODE": 0.3, "REPLACE_LINES": 0.4, "RUN_TESTS": 0.04, "UNDO_EDIT": 0.16,
         "RESET_TO_ORIGINAL": 0.03, "INVALID": 0.07}


def run_episode(recorder: SQLiteRecorder, task: str, *, seed: int, policy_seed: int, max_steps: int,
                weights: dict[str, float] | None = None, submit_prob: float = 0.0, variant: int = 0) -> Any:
    """Run one episode to its end; return the final observation."""
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=max_steps, limits=FAST_LIMITS)), recorder)
    policy = RandomPolicy(policy_seed, submit_prob=submit_prob, weights=weights)
    obs = env.reset(task_name=task, seed=seed, variant=variant)
    while not obs.done:
        obs = env.step(policy.act(obs))
    return obs


def tamper(db: Path, sql: str, args: tuple[Any, ...]) -> None:
    """Change the stored file directly, as an attacker or a bad disk would."""
    conn = sqlite3.connect(db)
    with conn:
        assert conn.execute(sql, args).rowcount == 1
    conn.close()
