"""``tracefix replay`` and ``tracefix trajectories list|show|export|import`` via CliRunner."""

from __future__ import annotations

import json
import sqlite3

import pytest
import typer
from _helpers import CHEAP, run_episode
from typer.testing import CliRunner

from tracefix_rl.cli._trajectory_cmds import replay_command, trajectories_app
from tracefix_rl.data.trajectories import SQLiteRecorder

app = typer.Typer()
app.command("replay")(replay_command)
app.add_typer(trajectories_app, name="trajectories")
runner = CliRunner()


@pytest.fixture
def db(tmp_path):
    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    eid = run_episode(rec, "binary_search_off_by_one", seed=1, policy_seed=2, max_steps=30, weights=CHEAP,
                      ).episode_id
    rec.close()
    return tmp_path / "t.sqlite3", eid


def test_replay_verified_and_diverged(db):
    path, eid = db
    result = runner.invoke(app, ["replay", eid, "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output and "30 steps" in result.output
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE steps SET observation_hash='bad' WHERE step=12")
    conn.close()
    result = runner.invoke(app, ["replay", eid, "--db", str(path)])
    assert result.exit_code == 1
    assert "DIVERGED" in result.output and "at step 12" in result.output and "observation_hash" in result.output
    result = runner.invoke(app, ["replay", "--db", str(path), "--json"])  # default: the latest episode
    assert result.exit_code == 1 and json.loads(result.output)["first_divergence"] == 12


def test_replay_errors_exit_2(tmp_path, db):
    assert runner.invoke(app, ["replay", "x", "--db", str(tmp_path / "none.sqlite3")]).exit_code == 2
    result = runner.invoke(app, ["replay", "nope", "--db", str(db[0])])
    assert result.exit_code == 2 and "no episode" in result.output


def test_list_show_export_import_and_replay_from_file(db, tmp_path):
    path, eid = db
    result = runner.invoke(app, ["trajectories", "list", "--db", str(path), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)[0]["episode_id"] == eid
    result = runner.invoke(app, ["trajectories", "list", "--db", str(path), "--task", "factorial_off_by_one"])
    assert result.exit_code == 0 and eid not in result.output
    result = runner.invoke(app, ["trajectories", "list", "--db", str(path), "--since", "2000-01-01"])
    assert eid[:12] in result.output and eid not in result.output
    result = runner.invoke(app, ["trajectories", "list", "--db", str(path), "--full-ids"], env={"COLUMNS": "200"})
    assert eid in result.output
    result = runner.invoke(app, ["trajectories", "list", "--db", str(path), "--since", "2999-01-01"])
    assert eid[:12] not in result.output
    result = runner.invoke(app, ["trajectories", "show", eid[:8], "--db", str(path)])  # a unique prefix
    assert result.exit_code == 0 and "binary_search_off_by_one" in result.output and "REPLACE_LINES" in result.output
    out = tmp_path / "eps.jsonl"
    result = runner.invoke(app, ["trajectories", "export", str(out), "--db", str(path)])
    assert result.exit_code == 0 and len(out.read_text().splitlines()) == 1
    result = runner.invoke(app, ["replay", "--file", str(out)])
    assert result.exit_code == 0 and "VERIFIED" in result.output
    dest = tmp_path / "dest.sqlite3"
    result = runner.invoke(app, ["trajectories", "import", str(out), "--db", str(dest)])
    assert result.exit_code == 0 and "imported 1" in result.output
    assert runner.invoke(app, ["trajectories", "import", str(out), "--db", str(dest)]).exit_code == 2
    result = runner.invoke(app, ["trajectories", "import", str(out), "--db", str(dest), "--on-conflict", "skip"])
    assert result.exit_code == 0 and "imported 0" in result.output
    assert runner.invoke(app, ["replay", eid, "--db", str(dest)]).exit_code == 0
