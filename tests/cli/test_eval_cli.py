"""``tracefix eval`` on the command line: files, resume, selection options and clear errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tracefix_rl.cli.main import app

runner = CliRunner()


def _eval(*args: str):
    return runner.invoke(app, ["eval", "--no-live", *args])


def test_repair_agent_run_writes_every_file_and_resume_plays_nothing(tmp_path):
    out = tmp_path / "run"
    result = _eval("--agent", "repair", "--tasks", "sum_even_wrong_condition,task2_medium", "-k", "2", "-w", "2",
                   "-o", str(out))
    assert result.exit_code == 0, result.output
    for name in ("results.jsonl", "report.json", "report.html", "run.json", "trajectories.sqlite3", "eval.log"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    assert report["total_episodes"] == 4 and report["config"]["agent"]["kind"] == "repair"
    assert sorted(t["instance"] for t in report["by_task"]) == ["binary_search_off_by_one", "sum_even_wrong_condition"]
    assert "Resolved rate" in result.output and "pass@2" in result.output
    lines = (out / "results.jsonl").read_text()

    again = _eval("--agent", "repair", "--tasks", "sum_even_wrong_condition,task2_medium", "-k", "2",
                  "-o", str(out), "--resume")
    assert again.exit_code == 0, again.output
    assert (out / "results.jsonl").read_text() == lines
    assert json.loads((out / "report.json").read_text())["run"]["skipped_as_finished"] == 4


def test_selection_options_compose(tmp_path):
    out = tmp_path / "sel"
    result = _eval("--agent", "oracle", "--tier", "medium,hard", "--filter", "^binary|^merge", "--shuffle",
                   "--seed", "3", "--slice", "0:3", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    names = [t["task"] for t in report["by_task"]]
    assert len(names) == 3 and all(n.startswith(("binary", "merge")) for n in names)
    assert report["resolved_episodes"] == 3  # the oracle applies the reference fix


def test_bad_options_exit_2_with_a_clear_message(tmp_path):
    cases = [
        (["--agent", "nope"], "--agent must be one of"),
        (["--agent", "llm"], "needs --model"),
        (["--agent", "repair", "--tasks", "no_such_task"], "unknown task 'no_such_task'"),
        (["--agent", "repair", "--tier", "impossible"], "unknown tier"),
        (["--agent", "repair", "--slice", "a:b"], "--slice must contain integers"),
        (["--agent", "repair", "--variants", "3..1"], "is empty"),
        (["--agent", "repair", "--filter", "("], "not a valid regular expression"),
        (["--agent", "repair", "--resume"], "--resume needs --output"),
        (["--agent", "repair", "--filter", "zzz_nothing"], "no task matches"),
    ]
    for args, message in cases:
        result = _eval(*args, "-o", str(tmp_path / "x")) if "--resume" not in args else _eval(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path):
    out = tmp_path / "run"
    assert _eval("--agent", "oracle", "--tasks", "task1_easy", "-o", str(out)).exit_code == 0
    again = _eval("--agent", "oracle", "--tasks", "task1_easy", "-o", str(out))
    assert again.exit_code == 2 and "already holds results" in again.output
    fresh = _eval("--agent", "oracle", "--tasks", "task1_easy", "-o", str(out), "--overwrite")
    assert fresh.exit_code == 0, fresh.output
    assert len((out / "results.jsonl").read_text().splitlines()) == 1


def test_live_table_shows_progress_columns(tmp_path):
    from rich.console import Console

    from tracefix_rl.cli._eval_live import status_table
    from tracefix_rl.evaluation import Progress

    progress = Progress(total=10, skipped=2, done=3, running=2, counted=3, resolved=2, score_sum=2.0)
    progress.statuses.update({"submitted": 3, "infra_error": 1})
    console = Console(record=True, width=100)
    console.print(status_table(progress))
    text = console.export_text()
    for column in ("running", "done", "resolved", "score", "errors", "ETA"):
        assert column in text
    assert "5/10 (2 earlier)" in text and "2/3 66.7%" in text and "0.667" in text and "infra 1" in text

    result = runner.invoke(app, ["eval", "--live", "--agent", "oracle", "--tasks", "task1_easy", "-o",
                                 str(tmp_path / "live")])
    assert result.exit_code == 0, result.output
