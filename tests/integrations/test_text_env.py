"""TraceFixTextEnv: the text-in/text-out episode the Gymnasium and SkyRL adapters share."""

from __future__ import annotations

import json

import pytest

from tracefix_rl import EnvConfig
from tracefix_rl.agents.llm import AgentConfig, observation_text
from tracefix_rl.core.errors import EpisodeError, ResetNeededError
from tracefix_rl.integrations.text_env import TraceFixTextEnv

TASK = "binary_search_off_by_one"
FIX = json.dumps({"thought": "off by one", "action_type": "REPLACE_LINES", "start_line": 3, "end_line": 3,
                  "new_code_block": "right = len(arr) - 1"})


def _env(**kw) -> TraceFixTextEnv:
    return TraceFixTextEnv(record=False, **kw)


def test_an_episode_is_text_rendered_as_inference_shows_it():
    env = _env(task_name=TASK)
    text, info = env.reset(seed=0)
    assert text == observation_text(env.observation, AgentConfig())
    assert info["task_name"] == TASK and info["seed"] == 0 and info["variant"] == 0 and info["episode_id"]
    text, reward, terminated, truncated, info = env.step('Sure! ```json\n{"action_type": "RUN_TESTS"}\n```')
    assert "visible tests passing: 2/4" in text and reward == pytest.approx(-0.01)
    assert (terminated, truncated) == (False, False) and info["action_type"] == "RUN_TESTS"
    env.step(FIX)
    text, reward, terminated, truncated, info = env.step('{"action_type": "SUBMIT"}')
    assert terminated and not truncated
    assert info["final_score"] == env.observation.final_score and info["resolved"] is True
    assert info["reward_breakdown"]["final_score"] == info["final_score"]
    with pytest.raises(EpisodeError):
        env.step('{"action_type": "RUN_TESTS"}')


def test_unusable_replies_cost_no_step_and_three_in_a_row_submit():
    env = _env(task_name=TASK)
    env.reset(seed=0)
    for reply in ("I will now fix it.", '{"action_type": "FIX_IT"}'):
        text, reward, terminated, truncated, info = env.step(reply)
        assert text.startswith("PARSE_ERROR: ") and reward == 0.0 and not terminated
        assert info["step_count"] == 0 and info["parse_error"]
    assert "action_type" in info["parse_error"]
    text, reward, terminated, truncated, info = env.step("[]")
    assert terminated and info["action_type"] == "SUBMIT" and "the episode was submitted" in info["parse_error"]
    assert env.observation.step_count == 1 and info["final_score"] == env.observation.final_score


def test_a_valid_reply_resets_the_parse_error_count():
    env = _env(task_name=TASK, max_parse_errors=2)
    env.reset(seed=0)
    env.step("nope")
    env.step('{"action_type": "VIEW_CODE"}')
    assert not env.step("nope")[2]
    assert env.step("nope")[2]


def test_the_step_budget_truncates():
    env = _env(task_name=TASK, env_config=EnvConfig(max_steps=2))
    env.reset(seed=0)
    assert env.step('{"action_type": "VIEW_CODE"}')[2:4] == (False, False)
    _, _, terminated, truncated, info = env.step('{"action_type": "VIEW_CODE"}')
    assert (terminated, truncated) == (False, True) and info["end_reason"] == "step_budget"


def test_equal_seeds_and_replies_give_equal_episodes():
    runs = []
    for _ in range(2):
        env = _env(difficulty="hard")
        first, info = env.reset(seed=11)
        steps = [env.step(r) for r in ('{"action_type": "RUN_TESTS"}', "x", '{"action_type": "SUBMIT"}')]
        runs.append((first, info["task_name"], steps))
    assert runs[0] == runs[1]


def test_reset_options_override_defaults_and_unknown_options_are_refused():
    env = _env(task_name="task1_easy")
    _, info = env.reset(seed=1, options={"task_name": TASK, "variant": 0})
    assert info["task_name"] == TASK
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"tsak_name": TASK})
    with pytest.raises(ResetNeededError):
        _env().step('{"action_type": "RUN_TESTS"}')


def test_remote_episodes_match_in_process_ones(tracefix_server):
    local = _env(task_name=TASK)
    expected = [local.reset(seed=2)[0]] + [local.step(r)[:4] for r in ('{"action_type": "RUN_TESTS"}', FIX,
                                                                        '{"action_type": "SUBMIT"}')]
    remote = TraceFixTextEnv(task_name=TASK, base_url=tracefix_server.url)
    got = [remote.reset(seed=2)[0]] + [remote.step(r)[:4] for r in ('{"action_type": "RUN_TESTS"}', FIX,
                                                                    '{"action_type": "SUBMIT"}')]
    remote.close()
    assert got == expected
    assert tracefix_server.get("/sessions")["active"] == 0
