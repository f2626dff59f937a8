"""merge_stores / ``tracefix trajectories merge``: one store from many, nothing lost, conflicts named."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tracefix_rl.cli.main import app
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import TrajectoryError
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.trajectories import SQLiteRecorder, TrajectoryStore, merge_stores
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment
from tracefix_rl.env.replay import replay


def _record(path, episode_id, actions):
    recorder = SQLiteRecorder(path)
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig()), recorder)
    env.reset(task_name="binary_search_off_by_one", seed=0, episode_id=episode_id)
    for a in actions:
        env.step(CodeAction(action_type=a))
    recorder.close()


def test_merge_keeps_every_episode_and_names_conflicts(tmp_path):
    a, b, out = tmp_path / "host-0.sqlite3", tmp_path / "host-1.sqlite3", tmp_path / "all.sqlite3"
    _record(a, "ep-a", ["RUN_TESTS", "SUBMIT"])
    _record(b, "ep-b", ["VIEW_CODE"])
    _record(b, "ep-shared", ["VIEW_CODE"])
    _record(a, "ep-shared", ["VIEW_CODE"])  # the same episode in both files: stored once

    report = merge_stores([a, b], out)
    assert (report.merged, report.identical) == (3, 1)
    store = TrajectoryStore(out)
    assert {e["episode_id"] for e in store.list_episodes(limit=None)} == {"ep-a", "ep-b", "ep-shared"}
    assert store.load_episode("ep-a")["final_score"] is not None
    assert store.get_observation("ep-b", 1).step_count == 1
    assert all(replay(eid, db=out).verified for eid in ("ep-a", "ep-b", "ep-shared"))

    c = tmp_path / "other.sqlite3"
    _record(c, "ep-a", ["VIEW_CODE"])  # same id, other steps
    with pytest.raises(TrajectoryError, match=r"episode ep-a differs between .*host-0.sqlite3 and .*other.sqlite3"):
        merge_stores([a, c], tmp_path / "fresh.sqlite3")
    assert merge_stores([a, c], tmp_path / "skip.sqlite3", on_conflict="skip").skipped == ["ep-a"]
    merge_stores([a, c], tmp_path / "replace.sqlite3", on_conflict="replace")
    assert TrajectoryStore(tmp_path / "replace.sqlite3").load_episode("ep-a")["total_steps"] == 1

    with pytest.raises(TrajectoryError, match="cannot also be the destination"):
        merge_stores([a, out], out)
    with pytest.raises(TrajectoryError, match="no such trajectory store"):
        merge_stores([tmp_path / "missing.sqlite3"], out)


def test_merge_command_reports_what_it_did(tmp_path):
    a, b, out = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "out.sqlite3"
    _record(a, "one", ["VIEW_CODE"])
    _record(b, "two", ["RUN_TESTS"])
    result = CliRunner().invoke(app, ["trajectories", "merge", str(out), str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "merged 2 episode(s)" in result.output and f"1 episode(s) from {a}" in result.output
    _record(tmp_path / "c.sqlite3", "one", ["SUBMIT"])
    clash = CliRunner().invoke(app, ["trajectories", "merge", str(out), str(tmp_path / "c.sqlite3")])
    assert clash.exit_code == 2 and "episode one differs" in clash.output
