"""The TRL environment contract, checked without torch: tools, schemas, pickling, scoring, errors."""

from __future__ import annotations

import inspect
import pickle

import pytest

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
from tracefix_rl.core.errors import EpisodeError, TaskError, UnknownTaskError
from tracefix_rl.integrations.tools import (
    TOOL_NAMES,
    TOOL_SCHEMAS,
    action_for_tool,
    tool_call_for_action,
    tool_output,
)
from tracefix_rl.integrations.trl import (
    TraceFixToolEnv,
    final_score_reward,
    make_env_factory,
    resolved_reward,
)

TASK = "binary_search_off_by_one"
ROW = {"prompt": [{"role": "user", "content": "x"}], "task_name": TASK, "seed": 0, "variant": 0,
       "difficulty": "medium", "task_pack": None, "unrelated_column": 7}


def _tools(cls: type) -> list[str]:
    # exactly TRL's probe: plain functions on the class, minus reset/get_reward/private names
    return sorted(n for n, _ in inspect.getmembers(cls, predicate=inspect.isfunction)
                  if n not in ("reset", "get_reward") and not n.startswith("_"))


def _env(**config) -> TraceFixToolEnv:
    return make_env_factory(record=False, **config)()


def test_trl_sees_exactly_the_seven_tools():
    assert _tools(TraceFixToolEnv) == list(TOOL_NAMES) == [
        "replace_lines", "reset_to_original", "run_tests", "submit", "trace", "undo_edit", "view_code"]
    assert callable(TraceFixToolEnv.reset) and callable(TraceFixToolEnv.get_reward)


def test_every_tool_schema_builds_with_transformers_and_matches_the_published_one():
    utils = pytest.importorskip("transformers.utils")
    built = [utils.get_json_schema(getattr(TraceFixToolEnv, name)) for name in _tools(TraceFixToolEnv)]
    assert built == TOOL_SCHEMAS
    replace = next(s for s in built if s["function"]["name"] == "replace_lines")["function"]["parameters"]
    assert replace["required"] == ["start_line", "end_line", "new_code"]
    assert replace["properties"]["start_line"]["type"] == "integer"


def test_factory_pickles_and_makes_independent_environments():
    factory = pickle.loads(pickle.dumps(make_env_factory(record=False, max_output_chars=123)))
    a, b = factory(), factory()
    assert a is not b and a._config.max_output_chars == 123
    a.reset(**ROW)
    b.reset(**{**ROW, "task_name": "task1_easy"})
    assert a.observation.task_name == TASK and b.observation.task_name != TASK


@pytest.mark.parametrize("bad", [{"reward": "sum"}, {"on_unsubmitted": "maybe"},
                                 {"base_url": "http://x", "db": "a.sqlite3"}])
def test_bad_settings_are_refused_when_the_factory_is_made(bad):
    with pytest.raises(ValueError):
        make_env_factory(**bad)
    with pytest.raises(TypeError):
        make_env_factory(no_such_setting=1)


def test_reset_reads_the_row_and_returns_the_intro():
    env = _env()
    intro = env.reset(**ROW)
    assert intro.startswith("\n\nTask: binary_search_off_by_one (medium)")
    assert "   3 |     right = len(arr)" in intro
    assert env.episode_id and not env.done and env.final_score is None
    with pytest.raises(UnknownTaskError):
        env.reset(**{**ROW, "task_name": "no_such_task"})


SCRIPT = [("view_code", {}), ("run_tests", {}), ("trace", {}),
          ("replace_lines", {"start_line": 3, "end_line": 3, "new_code": "right = len(arr) - 1"}),
          ("run_tests", {}), ("submit", {})]


def test_a_scripted_episode_through_the_tools_scores_as_the_environment_does():
    env = _env(max_output_chars=100_000)
    env.reset(**ROW)
    direct = TraceFixEnvironment(EnvConfig())
    direct.reset(task_name=TASK, seed=0, variant=0)
    for name, args in SCRIPT:
        text = getattr(env, name)(**args)
        obs = direct.step(action_for_tool(name, args))
        assert text == tool_output(obs, 100_000)
        assert env.observation.reward == obs.reward and env.observation.code_dict == obs.code_dict
    assert env.done and env.final_score == obs.final_score and env.resolved is True
    assert env.get_reward() == obs.final_score
    assert final_score_reward(environments=[env]) == [obs.final_score]
    assert resolved_reward(environments=[env]) == [1.0]


def test_refused_actions_come_back_as_text_and_the_episode_goes_on():
    env = _env()
    env.reset(**ROW)
    out = env.replace_lines(start_line=40, end_line=41, new_code="x = 1")
    assert "past the end" in out and env.observation.step_count == 1 and not env.done
    assert "unknown test_name 'nope'" in env.trace(test_name="nope")
    assert env.observation.step_count == 2


@pytest.mark.parametrize("args, fragment", [
    ({"start_line": "three", "end_line": 3, "new_code": "x"}, "start_line"),
    ({"start_line": 3, "end_line": [3], "new_code": "x"}, "end_line"),
    ({"start_line": 3, "end_line": 3, "new_code": "x" * 20_001}, "new_code_block"),
    ({"start_line": 3, "end_line": 3, "new_code": {"not": "text"}}, "new_code_block"),
])
def test_arguments_of_the_wrong_shape_cost_no_step(args, fragment):
    env = _env()
    env.reset(**ROW)
    out = env.replace_lines(**args)
    assert out.startswith("Invalid arguments for replace_lines:") and fragment in out
    assert env.observation.step_count == 0


def test_unknown_arguments_raise_as_python_does_so_trl_reports_a_failed_call():
    env = _env()
    env.reset(**ROW)
    with pytest.raises(TypeError):
        env.run_tests(verbose=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="takes no argument"):
        action_for_tool("run_tests", {"verbose": True})
    with pytest.raises(ValueError, match="unknown tool"):
        action_for_tool("delete_tests", {})


def test_tools_before_reset_and_after_the_end_raise():
    env = _env()
    with pytest.raises(EpisodeError, match="reset"):
        env.run_tests()
    env.reset(**ROW)
    env.submit()
    for name in TOOL_NAMES:
        with pytest.raises(EpisodeError, match="Stop calling tools"):
            getattr(env, name)(**({"start_line": 1, "end_line": 1, "new_code": "x"} if name == "replace_lines" else {}))
    assert env.observation.step_count == 1  # nothing after the end reached the environment


def test_outputs_are_capped_with_a_visible_marker():
    env = _env(max_output_chars=50)
    intro = env.reset(**ROW)
    assert len(intro) < 120 and "more characters cut]" in intro
    out = env.view_code()
    assert out.startswith("=== Full Source ===") and out.endswith("more characters cut]")


def test_unsubmitted_episodes_score_zero_by_default_or_are_submitted_on_request():
    env = _env()
    env.reset(**ROW)
    env.run_tests()
    assert env.get_reward() == 0.0 and not env.done
    assert final_score_reward(environments=[env]) == [0.0]
    env = _env(on_unsubmitted="submit", reward="resolved")
    env.reset(**ROW)
    env.replace_lines(start_line=3, end_line=3, new_code="right = len(arr) - 1")
    assert env.get_reward() == 1.0
    assert env.done and env.observation.end_reason == "submitted" and 0 < env.final_score < 1
    assert final_score_reward(environments=[env]) == [env.final_score]


def test_reward_helpers_ignore_other_environments_and_need_environments():
    class Other:
        def reset(self, **_):
            return None

    env = _env()
    env.reset(**ROW)
    env.submit()
    assert final_score_reward(environments=[Other(), env]) == [None, env.final_score]
    assert resolved_reward(environments=[env, Other()]) == [0.0, None]
    with pytest.raises(ValueError, match="environment_factory"):
        final_score_reward(completions=["x"])


def test_the_same_row_gives_every_group_member_the_same_episode():
    a, b = _env(), _env()
    assert a.reset(**{**ROW, "task_name": None, "difficulty": "hard", "seed": 5}) == \
        b.reset(**{**ROW, "task_name": None, "difficulty": "hard", "seed": 5})
    assert a.observation.task_name == b.observation.task_name and a.observation.difficulty == "hard"


def test_tool_calls_and_actions_map_both_ways():
    for name, args in SCRIPT:
        assert tool_call_for_action(action_for_tool(name, args)) == (name, args)
    assert tool_call_for_action(CodeAction(action_type="TRACE", test_name="t", trace_format="cwm")) == (
        "trace", {"test_name": "t"})
    assert tool_call_for_action({"action_type": "REPLACE_LINES", "start_line": 2}) is None
    assert tool_call_for_action({"action_type": "RUN_TESTS", "start_line": 2}) == ("run_tests", {})


def test_make_dataset_rows_select_tiers_tasks_and_repeat_seeds_and_variants():
    datasets = pytest.importorskip("datasets")
    ds = make_dataset_or_skip(tiers=["easy"], seeds=[0, 1])
    assert isinstance(ds, datasets.Dataset)
    assert set(ds.column_names) == {"prompt", "task_name", "seed", "variant", "difficulty", "task_pack"}
    assert len(ds) == 20 and set(ds["difficulty"]) == {"easy"}
    assert [m["role"] for m in ds[0]["prompt"]] == ["system", "user"]
    ds = make_dataset_or_skip(tasks=["task2_medium"], variants=[0], seeds=[3], system_prompt=None)
    assert ds[0]["task_name"] == TASK and ds[0]["seed"] == 3 and len(ds[0]["prompt"]) == 1
    with pytest.raises(TaskError):
        make_dataset_or_skip(tasks=[TASK], tiers=["easy"])
    with pytest.raises(UnknownTaskError):
        make_dataset_or_skip(tasks=["nope"])


def make_dataset_or_skip(**kwargs):
    from tracefix_rl.integrations.trl import make_dataset

    return make_dataset(**kwargs)


def test_a_dataset_row_resets_the_episode_it_names():
    pytest.importorskip("datasets")
    row = make_dataset_or_skip(tasks=[TASK], seeds=[4])[0]
    env = _env()
    env.reset(**row)
    assert env.observation.task_name == TASK
    assert env._session.seed_and_variant() == (4, 0)
