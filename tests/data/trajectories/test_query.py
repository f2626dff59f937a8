"""The episode list's queries (filters, sort, pages, facets) and the schema-3 columns behind them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.trajectories import (
    EpisodeQuery,
    SQLiteRecorder,
    TrajectoryStore,
    episode_facets,
    query_episodes,
)
from tracefix_rl.data.trajectories._store import SCHEMA_VERSION
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment


def _fill(store: TrajectoryStore) -> None:
    rows = [  # id, task, tier, score, resolved, agent, start, flags
        ("a", "t1", "easy", 0.96, 1, "m1", 100.0, 0), ("b", "t1", "easy", 0.01, 0, "m2", 200.0, 2),
        ("c", "t2", "hard", None, None, "m1", 300.0, 0), ("d", "t2", "hard", 0.26, 0, None, 400.0, 0),
        ("e", "t1", "medium", 0.92, 1, "m2", 500.0, 1),
    ]
    for eid, task, tier, score, resolved, agent, start, flags in rows:
        store.insert_episode({"episode_id": eid, "task_name": task, "difficulty": tier}, "h", {}, start_time=start,
                             agent=agent, owner="me" if eid != "e" else "other")
        with store._locked() as conn:
            conn.execute("UPDATE episodes SET final_score=?, resolved=?, flag_count=?, done=? WHERE episode_id=?",
                         (score, resolved, flags, int(score is not None), eid))


@pytest.fixture
def store(tmp_path):
    s = TrajectoryStore(tmp_path / "q.sqlite3")
    _fill(s)
    yield s
    s.close()


def ids(store: TrajectoryStore, **kw) -> list[str]:
    return [r["episode_id"] for r in query_episodes(store, EpisodeQuery(**kw)).rows]


def test_each_filter_keeps_exactly_its_episodes(store):
    assert ids(store) == ["e", "d", "c", "b", "a"]
    assert ids(store, task="t1") == ["e", "b", "a"]
    assert ids(store, difficulty="hard") == ["d", "c"]
    assert ids(store, resolved=True) == ["e", "a"]
    assert ids(store, resolved=False) == ["d", "b"]
    assert ids(store, min_score=0.26, max_score=0.92) == ["e", "d"]
    assert ids(store, since=200.0, until=400.0) == ["d", "c", "b"]
    assert ids(store, agent="m1") == ["c", "a"]
    assert ids(store, flagged=True) == ["e", "b"]
    assert ids(store, owner="me", task="t1") == ["b", "a"]


def test_sorting_and_pages(store):
    assert ids(store, sort="final_score") == ["a", "e", "d", "b", "c"]  # unscored last when descending
    assert ids(store, sort="final_score", descending=False)[1:] == ["b", "d", "e", "a"]
    assert ids(store, sort="task", descending=False) == ["e", "b", "a", "d", "c"]  # ties newest first
    page = query_episodes(store, EpisodeQuery(per_page=2, page=3))
    assert [r["episode_id"] for r in page.rows] == ["a"] and page.total == 5 and page.pages == 3
    assert query_episodes(store, EpisodeQuery(per_page=2, page=9)).rows == []


def test_facets_list_the_values_that_occur(store):
    assert episode_facets(store) == {"tasks": ["t1", "t2"], "difficulties": ["easy", "hard", "medium"],
                                     "agents": ["m1", "m2"]}
    assert episode_facets(store, owner="other") == {"tasks": ["t1"], "difficulties": ["medium"], "agents": ["m2"]}


def test_a_task_filter_is_answered_from_the_task_index_not_from_resolveds(store):
    from tracefix_rl.data.trajectories._query import _where

    where, args = _where(EpisodeQuery(task="t1", resolved=True, agent="m1", min_score=0.5))
    assert where == " WHERE task_name = ? AND +agent = ? AND +resolved = ? AND final_score >= ?"
    plan = store._query("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM episodes" + where, tuple(args))
    assert "episodes_by_task" in plan[0]["detail"]
    assert ids(store, task="t1", resolved=True, agent="m2", min_score=0.5) == ["e"]


@pytest.mark.parametrize(("kw", "field"), [({"sort": "rowid"}, "sort"), ({"page": 0}, "page"),
                                           ({"per_page": 501}, "per_page"), ({"min_score": float("nan")}, "min_score")])
def test_invalid_queries_name_the_field(kw, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        EpisodeQuery(**kw)


def test_the_recorder_stores_resolved_and_agent(tmp_path):
    rec = SQLiteRecorder(tmp_path / "r.sqlite3", agent="policy-7")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=3)), rec)
    env.reset(task_name="binary_search_off_by_one", seed=0)
    env.step(CodeAction(action_type="SUBMIT"))
    unfinished = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=3)), rec)
    unfinished.reset(task_name="binary_search_off_by_one", seed=1)
    rows = {r["episode_id"]: r for r in query_episodes(rec, EpisodeQuery()).rows}
    assert rows[env.state.episode_id]["resolved"] is False and rows[env.state.episode_id]["agent"] == "policy-7"
    assert rows[unfinished.state.episode_id]["resolved"] is None
    record = rec.load_episode(env.state.episode_id)
    assert record["resolved"] is False and record["agent"] == "policy-7"
    # an exported record imports with the same verdict
    other = TrajectoryStore(tmp_path / "copy.sqlite3")
    other.import_record(record)
    assert other.load_episode(env.state.episode_id)["resolved"] is False
    rec.close()
    other.close()


def test_a_schema_2_store_is_upgraded_and_backfilled(tmp_path):
    db = tmp_path / "v2.sqlite3"
    rec = SQLiteRecorder(db)
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=3)), rec)
    env.reset(task_name="binary_search_off_by_one", seed=0)
    env.step(CodeAction(action_type="SUBMIT"))
    eid = env.state.episode_id
    rec.close()
    conn = sqlite3.connect(db)  # make it the file schema 2 wrote: no columns, no indexes of schema 3
    with conn:
        for name in ("episodes_by_score", "episodes_by_tier", "episodes_by_resolved", "episodes_by_agent",
                     "episodes_by_steps"):
            conn.execute(f"DROP INDEX {name}")
        conn.execute("ALTER TABLE episodes DROP COLUMN resolved")
        conn.execute("ALTER TABLE episodes DROP COLUMN agent")
        manifest = json.loads(conn.execute("SELECT manifest FROM episodes").fetchone()[0])
        conn.execute("UPDATE episodes SET manifest=?", (json.dumps({**manifest, "agent": "from-manifest"}),))
        conn.execute("PRAGMA user_version=2")
    conn.close()
    store = TrajectoryStore(db)
    with store._locked() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        indexes = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        plan = " ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN SELECT * FROM episodes WHERE resolved=1 "
                                                "ORDER BY start_time DESC"))
    assert {"episodes_by_resolved", "episodes_by_agent", "episodes_by_score"} <= indexes
    assert "episodes_by_resolved" in plan
    row = query_episodes(store, EpisodeQuery()).rows[0]
    assert row["episode_id"] == eid and row["resolved"] is False and row["agent"] == "from-manifest"
    store.close()
