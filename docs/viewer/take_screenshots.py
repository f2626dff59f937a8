"""Take the README's viewer screenshots: real episodes, the real viewer, Debian's headless Chromium.

    python docs/viewer/take_screenshots.py [--out docs/viewer]

Records a handful of episodes into a temporary store (the oracle fixing several tasks, random
policies, an agent that submits too early), serves them with the viewer app on loopback and
writes ``list.png``, ``episode.png`` and ``step.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_viewer import CHROMIUM, CHROMIUM_ARGS, Served  # noqa: E402


def record(db: Path) -> str:
    """Episodes of several kinds; returns the id of the oracle's binary-search fix."""
    from tracefix_rl.agents import oracle_actions
    from tracefix_rl.agents.random_policy import RandomPolicy
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.core.models import CodeAction
    from tracefix_rl.data.tasks import get_task
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    rec = SQLiteRecorder(db, agent="random-policy")
    for seed, task in enumerate(("factorial_off_by_one", "word_count_no_lower", "merge_intervals_missing_sort")):
        env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=12)), rec)
        obs = env.reset(task_name=task, seed=seed)
        policy = RandomPolicy(seed, submit_prob=0.1)
        while not obs.done:
            obs = env.step(policy.act(obs))
    rec.agent = "submits-at-once"
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    env.reset(task_name="caesar_cipher_no_wrap", seed=1)
    env.step(CodeAction(action_type="RUN_TESTS", thought="Two tests fail; submit anyway."))
    env.step(CodeAction(action_type="SUBMIT"))
    rec.agent = "oracle"
    fixed = ""
    for seed, task in enumerate(("lru_cache_wrong_eviction", "celsius_wrong_operator", "binary_search_off_by_one")):
        env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=20)), rec)
        env.reset(task_name=task, seed=seed)
        for action in oracle_actions(get_task(task), trace=True):
            if env.step(action).done:
                break
        fixed = str(env.state.episode_id)
    rec.close()
    return fixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tracefix_rl.data.trajectories import TrajectoryStore
    from tracefix_rl.viewer import create_viewer_app

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "trajectories.sqlite3"
        fixed = record(db)
        store = TrajectoryStore(db)
        served = Served(create_viewer_app(store))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(served.url + "/")
            page.screenshot(path=str(args.out / "list.png"))
            page.goto(f"{served.url}/episodes/{fixed}")
            page.screenshot(path=str(args.out / "episode.png"))
            page.goto(f"{served.url}/episodes/{fixed}#step-4")
            page.screenshot(path=str(args.out / "step.png"))
            browser.close()
        served.close()
        store.close()
    print(f"wrote {args.out}/list.png, episode.png, step.png")


if __name__ == "__main__":
    main()
