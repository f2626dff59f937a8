"""The openenv.yaml graders: payload shapes, graded (not two-valued) scores, bounds, determinism."""

from __future__ import annotations

import json

import pytest

from tracefix_rl import graders
from tracefix_rl.data.tasks import get_task

TASK = "task2_medium"


def _code_dict(source: str) -> dict[str, str]:
    return {str(i): line for i, line in enumerate(source.splitlines(), 1)}


def test_reference_scores_high_and_buggy_scores_lower_but_inside_bounds():
    task = get_task(TASK)
    good = graders.task2_medium({"source": task.reference})
    bad = graders.task2_medium({"source": task.buggy})
    assert good == graders.SCORE_MAX
    assert graders.SCORE_MIN <= bad < good
    assert 0 < bad < 1 and 0 < good < 1


def test_score_is_the_environments_final_score_with_resolution():
    task = get_task(TASK)
    buggy = graders.grade_report({"code_dict": _code_dict(task.buggy), "step_count": 3}, task_name=TASK)
    assert buggy.score == graders.SCORE_MIN and not buggy.resolved
    assert buggy.tally.f2p_visible == (0, 2) and buggy.tally.p2p == (6, 6)
    fixed = graders.grade_report({"source": task.reference, "step_count": 10}, task_name=TASK)
    assert fixed.resolved and fixed.score == 0.94  # 0.98 - 0.004 per step
    from tracefix_rl.engines.probes import partial_fix_program

    partial = partial_fix_program(task, ["test_missing_above_range"])
    report = graders.grade_report({"source": partial}, task_name=TASK)
    assert not report.resolved and graders.SCORE_MIN < report.score <= 0.26


@pytest.mark.parametrize("shape", ["final_observation", "observation", "state", "trajectory", "list",
                                   "pairs", "json", "code_lines", "model", "kwarg"])
def test_payload_shapes(shape):
    from tracefix_rl.core.models import CodeObservation

    ref = get_task(TASK).reference
    obs = {"code_dict": _code_dict(ref), "task_name": "binary_search_off_by_one", "step_count": 10}
    payload = {
        "final_observation": {"final_observation": obs},
        "observation": {"observation": obs},
        "state": {"state": {"source": ref, "step_count": 10}},
        "trajectory": {"trajectory": [{"observation": {"code_dict": {}}}, {"observation": obs}]},
        "list": [{"code_dict": {"1": "garbage("}}, obs],
        "pairs": [({"action_type": "VIEW_CODE"}, obs)],
        "json": json.dumps({"observation": obs}),
        "code_lines": {"code_lines": ref.splitlines(), "step_count": 10},
        "model": CodeObservation(code_dict={int(k): v for k, v in obs["code_dict"].items()}, step_count=10,
                                 task_name="binary_search_off_by_one"),
    }.get(shape)
    if shape == "kwarg":
        assert graders.task2_medium(final_observation=obs) == 0.94
    else:
        assert graders.task2_medium(payload) == 0.94


def test_degenerate_payloads_score_the_minimum():
    for payload in (None, {}, [], "", {"observation": {}}, 42, {"source": "def broken(:\n"}):
        assert graders.task2_medium(payload) == graders.SCORE_MIN
    assert graders.grade({"source": "x = 1"}) == graders.SCORE_MIN  # no task named anywhere
    assert graders.grade({"source": "x = 1"}, task_name="no_such_task") == graders.SCORE_MIN


def test_task_name_is_read_from_the_payload_and_named_graders_resolve():
    ref = get_task("task1_easy").reference
    assert graders.grade({"observation": {"source": ref, "task_name": "task1_easy"}}) == graders.SCORE_MAX
    dynamic = graders.reverse_string_returns_original
    assert dynamic({"source": ref}) == graders.SCORE_MAX
    with pytest.raises(AttributeError):
        graders.no_such_task_grader  # noqa: B018


def test_deterministic():
    buggy = {"source": get_task(TASK).buggy, "step_count": 5}
    assert len({graders.task2_medium(buggy) for _ in range(3)}) == 1


def test_openenv_yaml_graders_resolve_to_the_bank():
    import importlib
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "openenv.yaml").read_text())
    tasks = manifest["tasks"]
    from tracefix_rl.data.tasks import GRADED_TASKS

    assert tuple(t["id"] for t in tasks) == GRADED_TASKS  # the manifest copies the one list
    for entry in tasks:
        task = get_task(entry["id"])
        assert entry["name"] == task.name
        assert entry["difficulty"] == task.difficulty
        module, fn = entry["grader"].split(":")
        grader = getattr(importlib.import_module(module), fn)
        assert grader({"source": task.reference}) == graders.SCORE_MAX
        assert grader({"source": task.buggy}) < graders.SCORE_MAX


def test_a_recorded_trajectory_is_graded_by_replaying_its_actions(tmp_path):
    from tracefix_rl.agents import oracle_actions
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    recorder = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(), recorder)
    obs = env.reset(task_name="task2_medium", seed=4)
    actions = list(oracle_actions(get_task("task2_medium"), trace=False))
    for action in actions[:-1]:  # fixed and tested, but not submitted
        obs = env.step(action)
    record = recorder.load_episode(obs.episode_id)
    assert record["steps"] and record["task_name"] == "binary_search_off_by_one"
    expected = round(1.0 - 0.01 * obs.step_count, 2)
    assert graders.task2_medium(record) == expected
    assert graders.grade(json.dumps(record)) == expected  # the task name comes from the record
