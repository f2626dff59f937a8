"""Task packs: clients name packs from the operator's ``--task-pack-dir``, never server paths."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from _live_server import live_server

from tracefix_rl import CodeAction, TraceFixRLEnv
from tracefix_rl.agents import fix_actions
from tracefix_rl.data.tasks._pack import open_pack, write_pack
from tracefix_rl.data.tasks.importers import import_humanevalfix
from tracefix_rl.graders import grade

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "tasks" / "samples"


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory):
    tasks = import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl").tasks
    assert tasks, "the sample must import at least one task"
    root = tmp_path_factory.mktemp("packs")
    write_pack(tasks, root / "hef.jsonl")
    os.mkfifo(root / "stuck.jsonl")  # opening a FIFO would block forever
    (root / "zero.jsonl").symlink_to("/dev/zero")  # reading a device would never end
    return root


@pytest.fixture(scope="module")
def pack_server(tmp_path_factory, pack_dir):
    with live_server(tmp_path_factory.mktemp("packsrv"), "--task-pack-dir", str(pack_dir)) as srv:
        yield srv


def _solve(env, task):
    env.step(CodeAction(action_type="RUN_TESTS"))
    for action in fix_actions(task.buggy, task.reference):
        env.step(action)
    return env.step(CodeAction(action_type="SUBMIT")).observation


def test_reset_with_a_pack_named_from_the_configured_directory(pack_server, pack_dir):
    task = open_pack(pack_dir / "hef.jsonl").tasks()[0]
    assert pack_server.get("/task_packs") == {"task_packs": ["hef.jsonl"]}
    with TraceFixRLEnv(base_url=pack_server.url).sync() as env:
        result = env.reset(task_name=task.name, task_pack="hef.jsonl")
        assert result.observation.task_name == task.name
        obs = _solve(env, task)
    assert obs.done and obs.hidden_tests_passed == obs.hidden_tests_total and 0.9 <= obs.final_score < 1


@pytest.mark.parametrize(("name", "words"), [
    ("/dev/zero", "never a path"), ("/proc/self/environ", "never a path"), ("../packs/hef.jsonl", "never a path"),
    ("stuck.jsonl", "not a regular file"), ("zero.jsonl", "no task pack"), ("nope.jsonl", "no task pack"),
])
def test_paths_devices_fifos_and_unknown_names_are_refused_at_once(pack_server, name, words):
    with TraceFixRLEnv(base_url=pack_server.url).sync() as env:
        first = env.reset(task_name="task1_easy", seed=1).observation
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=f"task_pack.*{words}"):
            env.reset(task_name="task1_easy", task_pack=name)
        assert time.monotonic() - started < 10  # no FIFO wait, no endless read
        assert env.state().episode_id == first.episode_id  # the session and its episode go on


def test_a_server_without_a_pack_directory_refuses_every_pack(server, pack_dir):
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        with pytest.raises(RuntimeError, match="serves no task packs.*--task-pack-dir"):
            env.reset(task_pack="hef.jsonl")
        with pytest.raises(RuntimeError, match="task_pack"):
            env.reset(task_pack=str(pack_dir / "hef.jsonl"))


def test_server_configured_with_a_pack_samples_from_it(tmp_path, pack_dir):
    pack = pack_dir / "hef.jsonl"
    names = {t.name for t in open_pack(pack).tasks()}
    with live_server(tmp_path, env={"TRACEFIX_TASK_PACK": str(pack)}) as srv:
        with TraceFixRLEnv(base_url=srv.url).sync() as env:
            for seed in range(3):
                assert env.reset(seed=seed).observation.task_name in names


def test_graders_accept_packs(pack_dir):
    pack = pack_dir / "hef.jsonl"
    task = open_pack(pack).tasks()[0]
    fixed = {"code": task.reference, "task_name": task.name, "task_pack": str(pack)}
    broken = {"code": task.buggy, "task_name": task.name, "task_pack": str(pack)}
    assert grade(fixed) == 0.98
    assert 0 < grade(broken) < grade(fixed)
    assert grade({"code": task.reference, "task_name": task.name}) == 0.01  # not in the built-in bank
