"""``reset`` checks every argument before changing anything; unseeded resets draw fresh entropy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
from tracefix_rl.core.errors import ResetArgumentError, TraceFixError, UnknownArgumentError

TASK = "binary_search_off_by_one"


@pytest.fixture
def env():
    e = TraceFixEnvironment(EnvConfig())
    e.reset(task_name=TASK, seed=4)
    e.step(CodeAction(action_type="REPLACE_LINES", start_line=3, end_line=3, new_code_block="right = len(arr) - 1"))
    return e


def _snapshot(env: TraceFixEnvironment) -> tuple:
    return env.state.model_dump(), env.task.name, env.step(CodeAction(action_type="VIEW_CODE")).code_dict


def test_unknown_keyword_is_a_type_error_naming_it(env):
    before = env.state
    with pytest.raises(UnknownArgumentError, match="tsak_name") as err:
        env.reset(tsak_name="reverse_string_returns_original")
    assert isinstance(err.value, TypeError) and isinstance(err.value, TraceFixError)
    assert err.value.field == "tsak_name"
    assert env.state == before  # not silently a random task


@pytest.mark.parametrize(("field", "value", "words"), [
    ("seed", 1.5, "integer"), ("seed", "abc", "integer"), ("seed", -1, "from 0"), ("seed", 2**63, "from 0"),
    ("seed", True, "integer"), ("episode_id", 5, "characters"), ("episode_id", "\ud800", "characters"),
    ("episode_id", "a/b", "characters"), ("episode_id", "x" * 129, "characters"), ("task_name", 5, "string"),
    ("task_name", "\ud800", "surrogate"), ("task_name", "", "characters"), ("difficulty", "impossible", "one of"),
    ("variant", 10**9, "from 0 to 16"), ("variant", -1, "from 0"), ("variant", 1.5, "integer"),
    ("task_pack", 5, "string"), ("task_pack", "a\x00b", "NUL"),
])
def test_a_rejected_reset_changes_nothing_and_names_the_field(env, field, value, words):
    before = _snapshot(env)
    with pytest.raises(ResetArgumentError, match=words) as err:
        env.reset(**{"task_name": "reverse_string_returns_original", field: value})
    assert err.value.field == field and f"'{field}'" in str(err.value)
    after = _snapshot(env)
    assert after[1:] == before[1:] and after[0]["episode_id"] == before[0]["episode_id"]
    assert after[0]["step_count"] == before[0]["step_count"] + 1  # the snapshot's own VIEW_CODE


def test_an_unknown_task_changes_nothing(env):
    before = env.state
    with pytest.raises(TraceFixError, match="did you mean"):
        env.reset(task_name="binary_search_of_by_one")
    assert env.state == before


def test_unseeded_resets_draw_fresh_entropy_per_environment():
    a, b = TraceFixEnvironment(EnvConfig()), TraceFixEnvironment(EnvConfig())
    seeds_a = [(a.reset(), a.state.seed)[1] for _ in range(4)]
    seeds_b = [(b.reset(), b.state.seed)[1] for _ in range(4)]
    assert seeds_a != seeds_b
    assert all(isinstance(s, int) for s in seeds_a)
    # a reported seed reproduces its episode
    assert TraceFixEnvironment(EnvConfig()).reset(seed=seeds_a[2]).task_name == \
        TraceFixEnvironment(EnvConfig()).reset(seed=seeds_a[2]).task_name
    # and a configured seed still gives a reproducible sequence
    fixed = [TraceFixEnvironment(EnvConfig(seed=11)) for _ in range(2)]
    assert [(e.reset(), e.state.seed)[1] for e in fixed] == [fixed[0].state.seed] * 2


def test_unseeded_resets_differ_across_processes():
    code = ("import json; from tracefix_rl import TraceFixEnvironment, EnvConfig; "
            "e = TraceFixEnvironment(EnvConfig()); "
            "print(json.dumps([(e.reset(), e.state.seed)[1] for _ in range(3)]))")
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(2)]
    assert runs[0] != runs[1]


def test_lone_surrogates_are_refused_when_the_action_is_built():
    for field in ("thought", "new_code_block", "test_name"):
        with pytest.raises(ValidationError, match="unicode"):
            CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=1, **{field: "x\ud800"})
