"""Replay verification: a long random episode verifies; tampering is located exactly."""

from __future__ import annotations

import json
import sqlite3

import pytest
from _helpers import CHEAP, run_episode, tamper

from tracefix_rl.core.errors import ReplayError
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.trajectories import SQLiteRecorder
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment
from tracefix_rl.env.replay import replay, replay_record

TASK = "binary_search_off_by_one"


@pytest.fixture(scope="module")
def long_episode(tmp_path_factory):
    """One 200-step random-policy episode recorded into a fresh store."""
    db = tmp_path_factory.mktemp("replay") / "t.sqlite3"
    rec = SQLiteRecorder(db)
    obs = run_episode(rec, TASK, seed=11, policy_seed=7, max_steps=200, weights=CHEAP)
    rec.close()
    return db, obs


def test_200_step_random_episode_replays_verified(long_episode):
    db, obs = long_episode
    assert obs.step_count == 200 and obs.end_reason == "step_budget"
    kinds = {a["action_type"] for a in SQLiteRecorder(db).get_replay_actions(obs.episode_id)}
    assert {"VIEW_CODE", "REPLACE_LINES", "RUN_TESTS", "UNDO_EDIT"} <= kinds
    report = replay(obs.episode_id, db=db)
    assert report.verified, report.diff
    assert report.first_divergence is None
    assert report.steps_checked == report.steps_total == 200
    assert report.final_score_replayed == obs.final_score == report.final_score_recorded
    assert report.steps_per_second > 0


def _copy(db, tmp_path, name="copy.sqlite3"):
    """A private copy of the store (SQLite's backup API), so each test tampers with its own."""
    target = tmp_path / name
    src, dst = sqlite3.connect(db), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.mark.parametrize("step", [1, 57, 200])
def test_tampered_action_is_reported_at_exactly_that_step(long_episode, tmp_path, step):
    db, obs = long_episode
    copy = _copy(db, tmp_path)
    store = SQLiteRecorder(copy)
    original = store.load_episode(obs.episode_id)["steps"][step - 1]["action"]
    store.close()
    forged = {**original, "action_type": "REPLACE_LINES", "start_line": 1, "end_line": 1,
              "new_code_block": "def binary_search(arr, target):  # forged"}
    if original["action_type"] == "REPLACE_LINES" and original.get("new_code_block") == forged["new_code_block"]:
        forged["new_code_block"] += "!"
    tamper(copy, "UPDATE steps SET action=? WHERE episode_id=? AND step=?",
           (json.dumps(forged), obs.episode_id, step))
    report = replay(obs.episode_id, db=copy)
    assert not report.verified
    assert report.first_divergence == step
    assert report.steps_checked == step - 1
    fields = {d["field"] for d in report.differences}
    assert "observation_hash" in fields and "observation.code_dict" in fields
    assert f"step {step}" in report.diff


@pytest.mark.parametrize("step", [1, 123, 200])
def test_tampered_observation_hash_is_reported_at_exactly_that_step(long_episode, tmp_path, step):
    db, obs = long_episode
    copy = _copy(db, tmp_path)
    tamper(copy, "UPDATE steps SET observation_hash=? WHERE episode_id=? AND step=?",
           ("0" * 64, obs.episode_id, step))
    report = replay(obs.episode_id, db=copy)
    assert not report.verified
    assert report.first_divergence == step
    assert [d["field"] for d in report.differences] == ["observation_hash"]
    assert "stored hash itself was altered" in report.diff


def test_tampered_reward_and_final_score_are_reported(long_episode, tmp_path):
    db, obs = long_episode
    copy = _copy(db, tmp_path)
    tamper(copy, "UPDATE steps SET reward=reward+1 WHERE episode_id=? AND step=?", (obs.episode_id, 42))
    report = replay(obs.episode_id, db=copy)
    assert report.first_divergence == 42 and [d["field"] for d in report.differences] == ["reward"]

    copy2 = _copy(db, tmp_path, "copy2.sqlite3")
    tamper(copy2, "UPDATE episodes SET final_score=0.5 WHERE episode_id=?", (obs.episode_id,))
    report = replay(obs.episode_id, db=copy2)
    assert report.first_divergence == 200 and report.differences[0]["field"] == "final_score"


def test_invalid_tampered_action_is_a_divergence_not_a_crash(long_episode, tmp_path):
    db, obs = long_episode
    copy = _copy(db, tmp_path)
    tamper(copy, "UPDATE steps SET action=? WHERE episode_id=? AND step=?",
           (json.dumps({"action_type": "FORMAT_DISK"}), obs.episode_id, 9))
    report = replay(obs.episode_id, db=copy)
    assert report.first_divergence == 9 and report.differences[0]["field"] == "action"


def test_replay_record_needs_the_recorded_task_content(long_episode):
    db, obs = long_episode
    record = SQLiteRecorder(db).load_episode(obs.episode_id)
    record["manifest"]["task_hash"] = "f" * 64
    with pytest.raises(ReplayError, match="does not match its recorded content hash"):
        replay_record(record)
    del record["manifest"]["task"]  # a manifest without its task reopens the recorded source
    with pytest.raises(ReplayError, match="changed since"):
        replay_record(record)
    record["manifest"]["task_name"] = "no_such_task"
    with pytest.raises(ReplayError, match="cannot rebuild"):
        replay_record(record)


def test_an_episode_carries_its_task_and_replays_after_its_pack_is_gone(tmp_path):
    from tracefix_rl.data.tasks import get_task, write_pack

    pack = tmp_path / "pack.jsonl"
    write_pack([get_task(TASK)], pack, name="one")
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(), rec)
    env.reset(task_name=TASK, seed=1, task_pack=str(pack))
    env.step(CodeAction(action_type="RUN_TESTS"))
    env.step(CodeAction(action_type="SUBMIT"))
    pack.unlink()
    record = rec.load_episode(env.state.episode_id)
    assert record["manifest"]["task"]["hidden_tests"]  # self-contained
    assert replay(env.state.episode_id, db=rec.path).verified


def test_episodes_recorded_before_0_3_are_refused_by_name(long_episode):
    db, obs = long_episode
    record = SQLiteRecorder(db).load_episode(obs.episode_id)
    record["manifest"]["package_version"] = "0.2.0"
    with pytest.raises(ReplayError, match=r"recorded with tracefix-rl 0\.2\.0.*record them again"):
        replay_record(record)


def test_replay_of_missing_store_or_episode_raises(tmp_path, long_episode):
    with pytest.raises(ReplayError, match="no trajectory store"):
        replay("x", db=tmp_path / "absent.sqlite3")
    with pytest.raises(ReplayError, match="no episode"):
        replay("absent", db=long_episode[0])


def test_unfinished_episode_replays_its_recorded_steps(tmp_path):
    from tracefix_rl.agents.random_policy import RandomPolicy
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    db = tmp_path / "t.sqlite3"
    rec = SQLiteRecorder(db)
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=50)), rec)
    policy = RandomPolicy(3, weights=CHEAP)
    obs = env.reset(task_name=TASK, seed=2)
    for _ in range(12):
        obs = env.step(policy.act(obs))
    report = replay(obs.episode_id, db=db)
    assert report.verified and report.steps_checked == 12 and report.final_score_recorded is None
