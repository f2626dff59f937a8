"""Every user error of the ``tracefix`` CLI is one ``error:`` line on stderr and exit status 2.

Each case runs the real CLI (Typer's runner, or the installed entry point in a subprocess)
against real files, stores and packs; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracefix_rl.cli.main import app

runner = CliRunner()


def one_line_error(args: list[str], *, env: dict[str, str] | None = None, input: str | None = None) -> str:
    """Run ``tracefix ARGS``; assert exit 2 and exactly one stderr line, and return that line."""
    result = runner.invoke(app, args, env=env, input=input)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args", [["tasks", "show", "binary_serch_off_by_one"],
                                  ["demo", "binary_serch_off_by_one"],
                                  ["play", "binary_serch_off_by_one"]])
def test_unknown_task_names_the_task_and_a_close_match(in_tmp, args):
    line = one_line_error(args, input="quit\n")
    assert "'binary_serch_off_by_one'" in line and "binary_search_off_by_one" in line


def test_bad_difficulty_names_the_tiers(in_tmp):
    line = one_line_error(["tasks", "list", "--difficulty", "extreme"])
    assert "'extreme'" in line and "easy, medium, hard" in line and "--difficulty" in line


def test_tasks_stats_on_a_missing_file(in_tmp):
    line = one_line_error(["tasks", "stats", "missing.jsonl"])
    assert "missing.jsonl" in line and "does not exist" in line


def test_trace_of_a_non_utf8_file(in_tmp):
    (in_tmp / "latin1.py").write_bytes('s = "caf\xe9"\n'.encode("latin-1"))
    line = one_line_error(["trace", "latin1.py", "--entry", "f"])
    assert "latin1.py" in line and "UTF-8" in line


@pytest.mark.parametrize("db", ["/proc/no-such-dir/t.sqlite3", "{tmp}/a-file/t.sqlite3"])
def test_unwritable_trajectory_store(in_tmp, db):
    (in_tmp / "a-file").write_text("not a directory")
    path = db.format(tmp=in_tmp)
    line = one_line_error(["demo"], env={"TRACEFIX_DB": path})
    assert path in line and "TRACEFIX_DB" in line and "TRACEFIX_RECORD=0" in line


def test_export_refuses_a_suffix_it_would_not_write(in_tmp):
    assert runner.invoke(app, ["demo", "--no-trace"]).exit_code == 0
    line = one_line_error(["trajectories", "export", "x.csv"])
    assert "x.csv" in line and ".jsonl" in line and ".parquet" in line
    assert not (in_tmp / "x.csv").exists()


@pytest.mark.parametrize("count", ["-5", "0"])
def test_tasks_build_refuses_a_count_below_one(in_tmp, count):
    line = one_line_error(["tasks", "build", "--count", count, "-o", "p.jsonl"])
    assert "--count" in line
    assert not (in_tmp / "p.jsonl").exists()


@pytest.mark.parametrize("args", [["trajectories", "show", "deadbeef"], ["replay", "deadbeef"]])
def test_unknown_episode_id(in_tmp, args):
    assert runner.invoke(app, ["demo", "--no-trace"]).exit_code == 0
    line = one_line_error(args)
    assert "'deadbeef'" in line


def test_missing_store(in_tmp):
    line = one_line_error(["trajectories", "list", "--db", "nowhere.sqlite3"])
    assert "nowhere.sqlite3" in line


def test_a_file_that_is_not_a_store(in_tmp):
    (in_tmp / "notes.sqlite3").write_text("hello")
    line = one_line_error(["trajectories", "list", "--db", "notes.sqlite3"])
    assert "notes.sqlite3" in line and "not a database" in line


@pytest.mark.parametrize("args", [["tasks", "list", "--task-pack", "no/pack.jsonl"],
                                  ["tasks", "show", "x", "--task-pack", "no/pack.jsonl"],
                                  ["demo", "--task-pack", "no/pack.jsonl"],
                                  ["play", "--task-pack", "no/pack.jsonl"],
                                  ["tasks", "validate", "no/pack.jsonl"],
                                  ["eval", "--agent", "oracle", "--pack", "no/pack.jsonl", "-o", "out"]])
def test_bad_pack_paths(in_tmp, args):
    line = one_line_error(args, input="quit\n")
    assert "no/pack.jsonl" in line


def test_a_pack_that_is_not_a_pack(in_tmp):
    (in_tmp / "broken.jsonl").write_text('{"name": "x"}\n')
    line = one_line_error(["tasks", "list", "--task-pack", "broken.jsonl"])
    assert "broken.jsonl" in line


def test_usage_errors_are_one_line_too(in_tmp):
    assert "No such command 'frobnicate'" in one_line_error(["tasks", "frobnicate"])
    assert "--nope" in one_line_error(["demo", "--nope"])


def test_debug_shows_the_traceback_then_the_same_line(in_tmp):
    plain = one_line_error(["tasks", "show", "nope"])
    result = runner.invoke(app, ["--debug", "tasks", "show", "nope"])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr and "UnknownTaskError" in result.stderr
    assert result.stderr.splitlines()[-1] == plain


def test_the_installed_entry_point_prints_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEFIX_DB", "TRACEFIX_DEBUG")}
    proc = subprocess.run([sys.executable, "-m", "tracefix_rl.cli.main", "tasks", "show", "nope"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: unknown task 'nope'; run `tracefix tasks list`\n"
    assert not Path(tmp_path, ".tracefix").exists()  # looking a task up records nothing
