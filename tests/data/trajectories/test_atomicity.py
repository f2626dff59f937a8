"""A reset or a step is recorded and applied together, or not at all; ids are never shared;
the store keeps every full observation; the recorder's memory is bounded.

"Disk full" is real: SQLite's ``max_page_count`` caps the file, so the next write fails with
``database or disk is full`` exactly as it would on a full disk.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import pytest

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import EpisodeIdInUseError, ResetArgumentError, TrajectoryError
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.trajectories import SQLiteRecorder, TrajectoryStore
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment
from tracefix_rl.env.replay import replay

TASK = "binary_search_off_by_one"
FIX = CodeAction(action_type="REPLACE_LINES", start_line=3, end_line=3, new_code_block="right = len(arr) - 1")


@contextmanager
def disk_full(rec: SQLiteRecorder):
    """Make the store's next growth fail (``SQLITE_FULL``), then lift the cap."""
    with rec._locked() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    rec._commit(lambda conn: conn.execute(f"PRAGMA max_page_count={pages}"))  # on the writer's connection
    try:
        yield
    finally:
        rec._commit(lambda conn: conn.execute("PRAGMA max_page_count=1073741823"))


def _fill(rec: SQLiteRecorder, n: int = 40) -> None:
    # Make sure the next step needs a new page: fill the free space of the last pages first.
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig()), rec)
    for _ in range(n):
        env.reset(task_name=TASK, seed=1)


def test_reused_episode_id_is_refused_and_both_records_stay_whole(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    a = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    b = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    a.reset(task_name=TASK, seed=1, episode_id="shared")
    a.step(CodeAction(action_type="VIEW_CODE"))
    b.reset(task_name="reverse_string_returns_original", seed=2)
    b_before = b.state
    with pytest.raises(EpisodeIdInUseError, match="'shared' is already recorded") as err:
        b.reset(task_name=TASK, seed=9, episode_id="shared")
    assert err.value.field == "episode_id"
    assert b.state == b_before  # b's own episode goes on
    b.step(CodeAction(action_type="VIEW_CODE"))
    a.step(FIX)
    shared = rec.load_episode("shared")
    assert [s["step"] for s in shared["steps"]] == [1, 2] and shared["seed"] == 1
    assert [s["step"] for s in rec.load_episode(b.state.episode_id)["steps"]] == [1]
    assert replay("shared", db=rec.path).verified and replay(b.state.episode_id, db=rec.path).verified


@pytest.mark.parametrize("bad", [{"seed": 1.5}, {"seed": "abc"}, {"episode_id": 5}, {"tsak_name": "x"}])
def test_a_rejected_reset_keeps_recording_the_old_episode(tmp_path, bad):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    env.reset(task_name=TASK, seed=3)
    eid = env.state.episode_id
    env.step(CodeAction(action_type="RUN_TESTS"))
    with pytest.raises(ResetArgumentError):
        env.reset(task_name="reverse_string_returns_original", **bad)
    obs = env.step(FIX)
    assert obs.episode_id == eid and obs.task_name == TASK and obs.step_count == 2
    assert rec.count_episodes() == 1
    assert replay(eid, db=rec.path).verified


def test_a_reset_the_store_cannot_record_changes_nothing(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    _fill(rec)
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    env.reset(task_name=TASK, seed=3)
    env.step(CodeAction(action_type="VIEW_CODE"))
    with disk_full(rec):
        for i in range(30):  # alternate tasks until a reset needs a page the store cannot get
            before = env.state
            try:
                env.reset(task_name=("reverse_string_returns_original", TASK)[i % 2], seed=5 + i)
            except TrajectoryError as exc:
                assert "full" in str(exc)
                break
        else:
            pytest.fail("disk full never happened")
        failed_state = env.state
    assert failed_state == before  # the episode that was running goes on, unchanged
    action = FIX if failed_state.task_name == TASK else CodeAction(action_type="VIEW_CODE")
    obs = env.step(action)  # no "FOREIGN KEY constraint failed": the episode is the one recorded
    assert obs.last_action_error is None and not obs.infra_error
    assert env.state.episode_id == before.episode_id
    assert replay(env.state.episode_id, db=rec.path).verified


def test_a_step_the_store_cannot_record_is_not_applied(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=40)), rec)
    env.reset(task_name=TASK, seed=3)
    env.step(CodeAction(action_type="RUN_TESTS"))
    code_before, state_before = env.step(CodeAction(action_type="VIEW_CODE")).code_dict, env.state
    big = "\n".join(f"PAD_{i} = {i}  # {'x' * 60}" for i in range(150))  # needs new pages
    with disk_full(rec):
        refused = env.step(CodeAction(action_type="REPLACE_LINES", start_line=13, end_line=13, new_code_block=big))
    assert refused.infra_error and "could not be recorded" in refused.last_action_error
    assert "not applied" in refused.last_action_error and "full" in refused.last_action_error
    assert env.state == state_before and refused.code_dict == code_before
    assert refused.step_count == state_before.step_count
    again = env.step(CodeAction(action_type="REPLACE_LINES", start_line=13, end_line=13, new_code_block=big))
    assert again.step_count == state_before.step_count + 1 and not again.infra_error
    env.step(CodeAction(action_type="UNDO_EDIT"))
    env.step(FIX)
    final = env.step(CodeAction(action_type="SUBMIT"))
    assert final.done
    report = replay(env.state.episode_id, db=rec.path)
    assert report.verified, report.diff  # no gap: "step N is missing" cannot happen


def test_the_store_keeps_the_exact_observation_of_every_step(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    seen = [env.reset(task_name=TASK, seed=3)]
    for action in (CodeAction(action_type="RUN_TESTS"), CodeAction(action_type="TRACE"), FIX,
                   CodeAction(action_type="SUBMIT")):
        seen.append(env.step(action))
    eid = env.state.episode_id
    store = TrajectoryStore(rec.path)
    for step, obs in enumerate(seen):
        assert store.get_observation(eid, step) == obs
    assert len(seen[2].last_execution_output) > 600  # more than the old 600-character head
    assert store.load_episode(eid)["steps"][1]["observation"]["last_execution_output"] == \
        seen[2].last_execution_output
    with pytest.raises(TrajectoryError, match="no step 9"):
        store.get_observation(eid, 9)


def test_a_schema_1_store_is_migrated_and_says_what_it_lacks(tmp_path):
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE episodes (episode_id TEXT PRIMARY KEY, task_name TEXT NOT NULL, task_hash TEXT,
            difficulty TEXT, seed INTEGER, variant INTEGER, package_version TEXT, python_version TEXT,
            isolation TEXT, manifest TEXT NOT NULL, initial_observation_hash TEXT, initial_snapshot TEXT,
            start_time REAL NOT NULL, end_time REAL, final_score REAL, end_reason TEXT,
            total_steps INTEGER NOT NULL DEFAULT 0, cumulative_reward REAL NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0, flag_count INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE steps (episode_id TEXT NOT NULL REFERENCES episodes(episode_id), step INTEGER NOT NULL,
            timestamp REAL NOT NULL, action_type TEXT NOT NULL, action TEXT NOT NULL,
            observation_hash TEXT NOT NULL, snapshot TEXT NOT NULL, reward REAL NOT NULL,
            reward_breakdown TEXT NOT NULL, cumulative_reward REAL NOT NULL, done INTEGER NOT NULL, error TEXT,
            diff TEXT NOT NULL, pass_rate REAL, test_results TEXT NOT NULL, duration_ms REAL NOT NULL,
            security_flags TEXT NOT NULL, extra TEXT NOT NULL, PRIMARY KEY (episode_id, step));
        INSERT INTO episodes (episode_id, task_name, manifest, start_time) VALUES ('old', 't', '{}', 1.0);
        PRAGMA user_version=1;
    """)
    conn.close()
    rec = SQLiteRecorder(db)
    assert rec.has_episode("old") and rec.load_episode("old")["initial_observation"] is None
    with pytest.raises(TrajectoryError, match="schema 1"):
        rec.get_observation("old", 0)
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=5)), rec)
    env.reset(task_name=TASK, seed=1)
    obs = env.step(CodeAction(action_type="VIEW_CODE"))
    assert rec.get_observation(env.state.episode_id, 1) == obs
    with rec._locked() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 2


def test_the_recorder_forgets_abandoned_closed_and_finished_episodes(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    envs = [RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=3)), rec) for _ in range(5)]
    for env in envs:
        env.reset(task_name=TASK, seed=1)
        env.reset(task_name=TASK, seed=2)  # the first one is abandoned
    assert rec.open_episodes == 5
    envs[0].step(CodeAction(action_type="SUBMIT"))  # finished
    for env in envs[1:]:
        env.close()  # closed (a server closes reaped and disconnected sessions this way)
    assert rec.open_episodes == 0
    # the bound holds even for environments that are never closed
    rec.MAX_OPEN_EPISODES = 8
    stray = [RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=3)), rec) for _ in range(20)]
    for env in stray:
        env.reset(task_name=TASK, seed=1)
    assert rec.open_episodes == 8
    first = stray[0]  # evicted: its flags still work, read back from the store
    obs = first.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=1,
                                new_code_block="import os\ndef binary_search(arr, target):"))
    assert not obs.infra_error
    flags = rec.load_episode(first.state.episode_id)["steps"][0]["security_flags"]
    assert any(f["code"] == "dangerous_import" for f in flags), flags


def test_group_commit_isolates_callers_and_returns_only_after_commit(tmp_path):
    import threading

    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    gate, entered = threading.Event(), threading.Event()

    def hold(conn):  # keeps the writer busy so the next callers queue up into one group
        entered.set()
        gate.wait(10)

    holder = threading.Thread(target=rec._commit, args=(hold,))
    holder.start()
    entered.wait(10)
    results: list[tuple[str, object]] = []

    def start(eid: str) -> None:
        manifest = {"episode_id": eid, "task_name": TASK}
        try:
            results.append((eid, rec.insert_episode(manifest, "h", {})))
        except Exception as exc:
            results.append((eid, exc))

    threads = [threading.Thread(target=start, args=(eid,)) for eid in ("g1", "g2", "g1", "g3")]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert results == []  # nobody returns before its group has committed
    gate.set()
    for t in [holder, *threads]:
        t.join(10)
    assert sorted(eid for eid, v in results if v == eid) == ["g1", "g2", "g3"]
    clash = [eid for eid, v in results if isinstance(v, EpisodeIdInUseError)]
    assert clash == ["g1"]  # the second "g1" lost alone (its savepoint rolled back); the group committed
    assert sorted(e["episode_id"] for e in rec.list_episodes()) == ["g1", "g2", "g3"]
