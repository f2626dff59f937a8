"""The server and the graders accept any task pack: by reset argument and by configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from _live_server import live_server

from tracefix_rl import CodeAction, TraceFixRLEnv
from tracefix_rl.agents import fix_actions
from tracefix_rl.graders import grade
from tracefix_rl.tasks._pack import open_pack, write_pack
from tracefix_rl.tasks.importers import import_humanevalfix

SAMPLES = Path(__file__).resolve().parents[1] / "tasks" / "samples"


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    tasks = import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl").tasks
    assert tasks, "the sample must import at least one task"
    return write_pack(tasks, tmp_path_factory.mktemp("pack") / "hef.jsonl")


def _solve(env, task):
    env.step(CodeAction(action_type="RUN_TESTS"))
    for action in fix_actions(task.buggy, task.reference):
        env.step(action)
    return env.step(CodeAction(action_type="SUBMIT")).observation


def test_reset_with_task_pack_over_the_websocket(server, pack):
    task = open_pack(pack).tasks()[0]
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        result = env.reset(task_name=task.name, task_pack=str(pack))
        assert result.observation.task_name == task.name
        obs = _solve(env, task)
    assert obs.done and obs.hidden_tests_passed == obs.hidden_tests_total and 0.9 <= obs.final_score < 1


def test_server_configured_with_a_pack_samples_from_it(tmp_path, pack):
    names = {t.name for t in open_pack(pack).tasks()}
    with live_server(tmp_path, env={"TRACEFIX_TASK_PACK": str(pack)}) as srv:
        with TraceFixRLEnv(base_url=srv.url).sync() as env:
            for seed in range(3):
                assert env.reset(seed=seed).observation.task_name in names


def test_graders_accept_packs(pack):
    task = open_pack(pack).tasks()[0]
    fixed = {"code": task.reference, "task_name": task.name, "task_pack": str(pack)}
    broken = {"code": task.buggy, "task_name": task.name, "task_pack": str(pack)}
    assert grade(fixed) == 0.98
    assert 0 < grade(broken) < grade(fixed)
    assert grade({"code": task.reference, "task_name": task.name}) == 0.01  # not in the built-in bank
