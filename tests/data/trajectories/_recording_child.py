"""Child process for the kill test: records a random episode, printing each returned step."""

from __future__ import annotations

import sys

from _helpers import CHEAP, FAST_LIMITS

from tracefix_rl.agents.random_policy import RandomPolicy
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.data.trajectories import SQLiteRecorder
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment


def main() -> None:
    db, seed, max_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=max_steps, limits=FAST_LIMITS)), SQLiteRecorder(db))
    policy = RandomPolicy(seed, weights=CHEAP)
    obs = env.reset(task_name="binary_search_off_by_one", seed=seed)
    print("EP", obs.episode_id, flush=True)
    while not obs.done:
        obs = env.step(policy.act(obs))
        print(obs.step_count, flush=True)  # only after step() returned, i.e. after the commit
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
