"""Determinism audit: seeded random-policy episodes on every built-in task (as written and its
first generated variant) all replay VERIFIED."""

from __future__ import annotations

from _helpers import run_episode

from tracefix_rl.data.tasks import builtin_tasks
from tracefix_rl.data.trajectories import SQLiteRecorder
from tracefix_rl.env.replay import replay

EPISODES_PER_TASK = 2
STEPS = 16


def test_every_builtin_task_replays_with_zero_divergences(tmp_path):
    rec = SQLiteRecorder(tmp_path / "audit.sqlite3")
    ids = []
    for t, name in enumerate(sorted(builtin_tasks())):
        for k in range(EPISODES_PER_TASK):
            obs = run_episode(rec, name, seed=1000 * t + k, policy_seed=7919 * t + k, max_steps=STEPS,
                              submit_prob=0.04, variant=k % 2)
            ids.append(obs.episode_id)
    divergent = []
    kinds: set[str] = set()
    for eid in ids:
        report = replay(eid, db=rec.path)
        kinds |= {a["action_type"] for a in rec.get_replay_actions(eid)}
        if not report.verified:
            divergent.append(report.summary() + "\n" + report.diff)
    assert divergent == [], "\n\n".join(divergent)
    assert len(ids) == EPISODES_PER_TASK * len(builtin_tasks())
    assert kinds >= {"VIEW_CODE", "RUN_TESTS", "REPLACE_LINES", "UNDO_EDIT", "RESET_TO_ORIGINAL", "SUBMIT"}
    episodes = rec.list_episodes(limit=None)
    assert {e["variant"] for e in episodes} == {0, 1}
    ends = {e["end_reason"] for e in episodes}
    assert ends == {"submitted", "step_budget"}
