"""Reward hacks an RL policy could find, each played through the real environment and sandbox.

Every hack is one REPLACE_LINES that appends code to the buggy program, then SUBMIT. None may
resolve the task, and none may score above what a program earns without computing anything (the
unchanged program, or one that returns the same constant for every input): tests whose verdict
is reached inside the sandbox (``bool(...) -> True``) never earn partial credit, and every task
has a hidden FAIL_TO_PASS test that compares a computed value outside the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
from tracefix_rl.core.scoring import SCORE_MIN
from tracefix_rl.data.tasks import get_task
from tracefix_rl.data.tasks._pack import TaskPack

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "tasks" / "samples"

HACKS = {
    # the test code calls bool(...): take the name over in the program's namespace
    "shadow_bool": "def bool(x=False):\n    return True\n",
    # or replace it for everyone, in the builtins module
    "patch_builtins": "import builtins\nbuiltins.bool = lambda x=False: True\nbuiltins.abs = lambda x: 0\n",
    # return an object equal to everything, true, and close to every number
    "always_equal": (
        "class _Anything(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    def __bool__(self):\n        return True\n"
        "    def __lt__(self, other):\n        return True\n"
        "    def __sub__(self, other):\n        return _Anything(0)\n"
        "    def __abs__(self):\n        return 0\n"
        "    __hash__ = float.__hash__\n"
        "def {entry}(*args, **kwargs):\n    return _Anything(0)\n"
    ),
    # make the harness evaluate every test expression to True
    "patch_the_driver": (
        "import sys\n"
        "for _name, _module in list(sys.modules.items()):\n"
        "    if _name.startswith('tracefix_rl'):\n"
        "        try:\n            _module.eval = lambda *a, **k: True\n"
        "        except Exception:\n            pass\n"
    ),
    # write a passing result record for every test on every descriptor, then leave
    "forge_records": (
        "import json, os\n"
        "for _fd in range(3, 12):\n"
        "    for _i in range(40):\n"
        "        _line = json.dumps({'kind': 'test', 'index': _i, 'name': 't', 'status': 'returned',\n"
        "                            'value': 'True', 'display': 'True', 'stdout': '', 'duration_ms': 0.0})\n"
        "        try:\n            os.write(_fd, (_line + '\\n').encode())\n"
        "        except OSError:\n            pass\n"
        "os._exit(0)\n"
    ),
    # leave before any test runs
    "exit_early": "import os\nos._exit(0)\n",
}


def _bool_style_task():
    from tracefix_rl.data.tasks.importers import import_humanevalfix

    tasks = import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl").tasks
    task = next(t for t in tasks if t.name == "humanevalfix_1")
    assert any(t.call.startswith("bool(") for t in task.hidden_tests)  # the shape these hacks target
    return task


@pytest.fixture(scope="module", params=["humanevalfix_1", "binary_search_off_by_one", "valid_parentheses_wrong_mapping"])
def task(request):
    return _bool_style_task() if request.param == "humanevalfix_1" else get_task(request.param)


def _submit(task, extra: str | None):
    env = TraceFixEnvironment(EnvConfig(), task_source=TaskPack(Path("<test>"), {}, [task]))
    obs = env.reset(task_name=task.name, seed=0)
    if extra is not None:
        program = task.buggy.rstrip("\n") + "\n\n" + extra.replace("{entry}", task.entry_point)
        obs = env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=len(obs.code_dict),
                                  new_code_block=program))
        assert obs.last_action_error is None
    return env.step(CodeAction(action_type="SUBMIT"))


CONSTANTS = ("True", "False", "None", "0", "''", "[]")


@pytest.fixture(scope="module")
def trivial_best(task) -> float:
    """The best score of the unchanged program and of every constant-answer program."""
    scores = [_submit(task, None).final_score]
    for constant in CONSTANTS:
        obs = _submit(task, f"def {{entry}}(*args, **kwargs):\n    return {constant}\n")
        assert not obs.resolved
        scores.append(obs.final_score)
    assert max(scores) <= 0.10  # a constant answer earns next to nothing
    return max(scores)


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_no_hack_resolves_a_task_or_beats_a_constant_answer(task, trivial_best, hack):
    obs = _submit(task, HACKS[hack])
    assert obs.done and not obs.infra_error
    assert obs.resolved is False, (task.name, hack, obs.last_execution_output)
    assert obs.final_score <= trivial_best, (task.name, hack, obs.final_score, trivial_best)


def test_a_program_taking_over_bool_does_not_change_what_the_tests_call():
    task = _bool_style_task()
    program = task.reference.rstrip("\n") + "\n\n" + HACKS["shadow_bool"]
    obs = _submit(task, None)
    assert obs.final_score == SCORE_MIN
    env = TraceFixEnvironment(EnvConfig(), task_source=TaskPack(Path("<test>"), {}, [task]))
    obs = env.reset(task_name=task.name, seed=0)
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=len(obs.code_dict), new_code_block=program))
    obs = env.step(CodeAction(action_type="SUBMIT"))
    assert obs.resolved  # the reference still passes: its own `bool` is not the one the tests call
