"""The SQLite store: schema and pragmas, the seed logger's queries, filters, concurrency."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from _helpers import CHEAP, run_episode

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import TrajectoryError
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.trajectories import SCHEMA_VERSION, SQLiteRecorder, TrajectoryStore, default_recorder
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment, make_env

TASK = "binary_search_off_by_one"


def test_file_is_wal_with_versioned_schema(tmp_path):
    db = tmp_path / "sub" / "t.sqlite3"
    rec = SQLiteRecorder(db)
    with rec._locked() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL (WAL: survives a kill)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rec.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(TrajectoryError, match="schema version 99"):
        TrajectoryStore(db)


def test_one_step_records_everything(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=5)), rec)
    obs0 = env.reset(task_name=TASK, seed=3)
    block = "    right = len(arr) - 1"
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=3, end_line=3, new_code_block=block,
                        thought="off by one at the upper bound"))
    obs = env.step(CodeAction(action_type="RUN_TESTS"))
    ep = rec.get_trajectory()
    assert ep["episode_id"] == obs0.episode_id and ep["task"] == TASK and ep["seed"] == 3
    m = ep["manifest"]
    for key in ("package_version", "python_version", "isolation", "task_hash", "seed", "variant",
                "reward_config", "limits", "max_steps", "visible_tests"):
        assert key in m
    edit, run = ep["steps"]
    assert edit["action"]["new_code_block"] == block and edit["action"]["thought"].startswith("off by one")
    assert "-    right = len(arr)\n+    right = len(arr) - 1" in edit["diff"]
    assert edit["reward_breakdown"] == {"step_cost": -0.01} and edit["pass_rate"] is None
    assert run["pass_rate"] == obs.tests_passed / obs.tests_total
    assert [t["test_name"] for t in run["test_results"]] == [t.test_name for t in obs.test_results]
    assert run["cumulative_reward"] == obs.cumulative_reward and run["reward"] == obs.reward
    assert run["snapshot"]["tests_passed"] == obs.tests_passed and run["duration_ms"] > 0
    assert rec.get_replay_actions()[0]["new_code_block"] == block
    assert [t["action"] for t in rec.get_step_timeline()] == ["REPLACE_LINES", "RUN_TESTS"]
    obs = env.step(CodeAction(action_type="SUBMIT"))
    ep = rec.get_trajectory(obs0.episode_id)
    assert ep["done"] and ep["final_score"] == obs.final_score and ep["end_reason"] == "submitted"
    assert ep["end_time"] >= ep["start_time"]


def test_history_and_filters(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    ids = []
    for i, task in enumerate([TASK, "factorial_off_by_one", TASK]):
        ids.append(run_episode(rec, task, seed=i, policy_seed=i, max_steps=6, weights=CHEAP).episode_id)
    summary = rec.get_history_summary()
    assert [s["episode_id"] for s in summary] == ids  # oldest first, like the seed logger
    assert [e["episode_id"] for e in rec.list_episodes(task=TASK)] == [ids[2], ids[0]]
    assert rec.list_episodes(min_score=0.99) == []
    assert len(rec.list_episodes(max_score=1.0)) == 3
    now = time.time()
    assert rec.list_episodes(since=now + 60) == [] and len(rec.list_episodes(until=now + 60)) == 3
    assert len(rec.get_history_summary(limit=2)) == 2
    assert rec.get_trajectory("nope") is None and rec.get_replay_actions("nope") == []
    assert TrajectoryStore(tmp_path / "empty.sqlite3").get_trajectory() is None


def test_threads_share_one_recorder(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            run_episode(rec, TASK, seed=i, policy_seed=i, max_steps=15, weights=CHEAP)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []  # concurrent parses once hit CPython gh-106905; see tracefix_rl.core.safe_ast
    eps = rec.list_episodes()
    assert len(eps) == 4 and all(e["total_steps"] == 15 and e["done"] for e in eps)


def test_default_recorder_follows_the_environment_variables(tmp_path, monkeypatch):
    db = tmp_path / "default.sqlite3"
    monkeypatch.setenv("TRACEFIX_DB", str(db))
    rec = default_recorder()
    assert rec is not None and rec is default_recorder() and rec.path == db.resolve()
    env = make_env(config=EnvConfig(max_steps=2), record=True)
    assert isinstance(env, RecordEpisodes) and env.recorder is rec
    obs = env.reset(task_name=TASK, seed=0)
    env.step(CodeAction(action_type="VIEW_CODE"))
    assert rec.load_episode(obs.episode_id)["total_steps"] == 1
    monkeypatch.setenv("TRACEFIX_RECORD", "0")
    assert default_recorder() is None


def test_a_library_environment_records_nothing_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACEFIX_DB", raising=False)
    env = TraceFixEnvironment(EnvConfig(max_steps=2))
    env.reset(task_name=TASK, seed=0)
    env.step(CodeAction(action_type="VIEW_CODE"))
    assert not hasattr(env, "recorder") and not (tmp_path / ".tracefix").exists()
    recorded = make_env(record=True)
    recorded.reset(task_name=TASK, seed=0)  # the default store is the project's, not the machine's
    assert (tmp_path / ".tracefix" / "trajectories.sqlite3").exists()
    assert repr(recorded) == "<RecordEpisodes<TraceFixEnvironment>>"


def test_an_unwritable_store_refuses_the_step_loudly(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=5)), rec)
    env.reset(task_name=TASK, seed=0)
    other = sqlite3.connect(tmp_path / "t.sqlite3", timeout=0)
    other.execute("BEGIN EXCLUSIVE")  # hold the write lock
    rec.busy_timeout_ms = 50
    rec.close()  # reconnect with the short timeout
    refused = env.step(CodeAction(action_type="VIEW_CODE"))  # loudly: not applied, and says why
    assert refused.infra_error and "could not be recorded" in refused.last_action_error
    assert "locked" in refused.last_action_error and env.state.step_count == 0
    other.rollback()
    other.close()
    assert env.step(CodeAction(action_type="VIEW_CODE")).step_count == 1


def test_many_processes_can_create_one_new_store_at_once(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "fresh.sqlite3"
    code = ("import sys; from tracefix_rl.data.trajectories import TrajectoryStore; "
            "s = TrajectoryStore(sys.argv[1]); s.list_episodes(); print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results if err]
    assert all(out.strip() == "ok" for out, _ in results)

