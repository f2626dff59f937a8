"""The ``tracefix`` CLI: version, tasks, demo, play (driven through stdin) and doctor."""

from __future__ import annotations

from typer.testing import CliRunner

from tracefix_rl import __version__
from tracefix_rl.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_tasks_list_and_filter():
    result = runner.invoke(app, ["tasks", "list", "--difficulty", "hard"])
    assert result.exit_code == 0 and "10 tasks" in result.output
    assert "easy" not in result.output


def test_tasks_show_hides_the_solution_unless_asked():
    shown = runner.invoke(app, ["tasks", "show", "task2_medium"]).output
    assert "right = len(arr)" in shown and "len(arr) - 1" not in shown and "hidden tests" in shown
    solved = runner.invoke(app, ["tasks", "show", "task2_medium", "--solution"]).output
    assert "len(arr) - 1" in solved


def test_unknown_task_is_a_clear_error():
    result = runner.invoke(app, ["tasks", "show", "binary_serch_off_by_one"])
    assert result.exit_code != 0 and "did you mean" in str(result.exception)


def test_demo_fixes_the_bug_and_submits():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "SUCCESS: ALL TESTS PASSED" in result.output and "final score 0.9" in result.output
    assert "TRACE" in result.output


def test_play_reads_actions_from_the_terminal():
    script = "run\nreplace 3 3\nright = len(arr) - 1\n.\nbogus\n{\"action_type\": \"RUN_TESTS\"}\nsubmit\n"
    result = runner.invoke(app, ["play", "binary_search_off_by_one"], input=script)
    assert result.exit_code == 0, result.output
    assert "Tests Passed: 2/4" in result.output and "Tests Passed: 4/4" in result.output
    assert "Unknown command" in result.output and "final score 0.9" in result.output


def test_doctor_reports_the_isolation_level():
    from tracefix_rl.engines.sandbox import get_sandbox

    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert f"level: {get_sandbox().isolation}" in result.output and "landlock_abi:" in result.output
    assert "forkserver.namespaces:" in result.output and "forkserver.notes:" in result.output
