"""Packs in every command, where runs go, 80-column tables and ``--json``, driven through the CLI.

The pack is a real one, built by ``tracefix tasks build`` from the built-in corpus.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests._live_server import live_server
from tracefix_rl.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "small.jsonl"
    result = runner.invoke(app, ["tasks", "build", "--count", "2", "--source", "builtin", "--workers", "2",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def pack_names(pack) -> list[str]:
    return [json.loads(line)["name"] for line in pack.read_text().splitlines()[1:]]


def cli(*args: str, columns: int = 80, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, in a terminal ``columns`` wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("TRACEFIX_DB", None)
    return subprocess.run([sys.executable, "-m", "tracefix_rl.cli.main", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_tasks_list_and_show_open_a_pack(pack, pack_names):
    listed = runner.invoke(app, ["tasks", "list", "--task-pack", str(pack), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [t["name"] for t in json.loads(listed.stdout)] == pack_names
    name = pack_names[0]
    shown = runner.invoke(app, ["tasks", "show", name, "--task-pack", str(pack), "--json", "--solution"])
    data = json.loads(shown.stdout)
    assert data["name"] == name and data["visible_tests"] and data["buggy"] != data["reference"]
    text = runner.invoke(app, ["tasks", "show", name, "--task-pack", str(pack)]).stdout
    assert name in text and "hidden tests run at SUBMIT" in text


def test_tasks_stats_json(pack, pack_names):
    result = runner.invoke(app, ["tasks", "stats", str(pack), "--json"])
    data = json.loads(result.stdout)
    assert data["tasks"] == len(pack_names) == sum(data["counts"]["tier"].values())
    assert data["header"]["count"] == len(pack_names)


def test_demo_on_a_pack_prints_where_the_episode_went_and_it_replays(in_tmp, pack, pack_names):
    result = runner.invoke(app, ["demo", "--task-pack", str(pack), "--no-trace"])
    assert result.exit_code == 0, result.output
    assert f"task={pack_names[0]}" in result.stdout and "final score 0.9" in result.stdout
    m = re.search(r"episode ([0-9a-f]{32}) recorded in (\S+)", result.stdout)
    assert m and Path(m.group(2)) == Path(".tracefix/trajectories.sqlite3")
    assert (in_tmp / ".tracefix" / "trajectories.sqlite3").exists()
    assert f"tracefix replay {m.group(1)[:12]}" in result.stdout
    assert f"tracefix trajectories show {m.group(1)[:12]}" in result.stdout
    replayed = runner.invoke(app, ["replay", m.group(1)[:12]])
    assert replayed.exit_code == 0 and "VERIFIED" in replayed.stdout


def test_demo_with_a_store_from_the_environment_names_it(in_tmp):
    db = in_tmp / "elsewhere" / "runs.sqlite3"
    result = runner.invoke(app, ["demo", "--no-trace"], env={"TRACEFIX_DB": str(db)})
    assert result.exit_code == 0 and f"recorded in {db}" in result.stdout
    assert f"--db {db}" in result.stdout


def test_demo_without_recording_says_so(in_tmp):
    result = runner.invoke(app, ["demo", "--no-trace"], env={"TRACEFIX_RECORD": "0"})
    assert result.exit_code == 0 and "was not recorded (TRACEFIX_RECORD=0)" in result.stdout
    assert not (in_tmp / ".tracefix").exists()


def test_play_on_a_pack_shows_the_id_the_code_after_edits_and_each_error_once(in_tmp, pack, pack_names):
    script = "replace 99 99\nx\n.\nreplace a b\nreplace 1 1\n# edited by hand\n.\nundo\nquit\n"
    result = runner.invoke(app, ["play", pack_names[1], "--task-pack", str(pack)], input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    eid = re.search(r"episode ([0-9a-f]{32})", out).group(1)
    assert f"episode {eid} recorded in .tracefix/trajectories.sqlite3" in out
    assert out.count("end_line (99) is past the end") == 1
    assert "replace needs two line numbers" in out
    assert "  1 | # edited by hand" in out  # the code after the edit
    assert "Reverted the last edit" in out


def test_serve_draws_sessions_from_the_pack(tmp_path, pack, pack_names):
    with live_server(tmp_path, "--task-pack", str(pack),
                     command=[sys.executable, "-m", "tracefix_rl.cli.main", "serve"]) as server:
        for seed in range(3):
            r = httpx.post(server.url + "/reset", json={"seed": seed}, timeout=60)
            assert r.status_code == 200 and r.json()["observation"]["task_name"] in pack_names


def test_lists_fit_80_columns_and_never_cut_names(tmp_path, pack, pack_names):
    for args, names in ((["tasks", "list"], None), (["tasks", "list", "--task-pack", str(pack)], pack_names)):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert max(map(len, lines)) <= 80
        if names is None:
            names = [t["name"] for t in json.loads(cli(*args, "--json").stdout)]
        for name in names:
            assert any(line.split()[:1] == [name] for line in lines), name
    long_name = max(pack_names, key=len)
    db = tmp_path / "t.sqlite3"
    env = {**os.environ, "TRACEFIX_DB": str(db)}
    subprocess.run([sys.executable, "-m", "tracefix_rl.cli.main", "demo", "--no-trace", "--task-pack", str(pack),
                    long_name], env=env, cwd=tmp_path, capture_output=True, check=True, timeout=300)
    listed = cli("trajectories", "list", "--db", str(db))
    assert max(map(len, listed.stdout.splitlines())) <= 80 and long_name in listed.stdout
    assert "--json shows all" in listed.stdout
    wide = cli("trajectories", "list", "--db", str(db), "--full-ids", columns=200)
    assert "started (UTC)" in wide.stdout and "--json" not in wide.stdout
    rows = json.loads(cli("trajectories", "list", "--db", str(db), "--json").stdout)
    assert rows[0]["task_name"] == long_name and rows[0]["episode_id"] in wide.stdout
