"""The SkyRL adapter through skyrl_gym's own register/make, driven as SkyRL's generator drives it."""

from __future__ import annotations

import json

import pytest

skyrl_gym = pytest.importorskip("skyrl_gym")

from tracefix_rl.agents.llm import SYSTEM_PROMPT  # noqa: E402
from tracefix_rl.integrations.skyrl import ENV_ID, TraceFixSkyRLEnv, register, skyrl_rows  # noqa: E402

TASK = "binary_search_off_by_one"
FIX = json.dumps({"action_type": "REPLACE_LINES", "start_line": 3, "end_line": 3,
                  "new_code_block": "right = len(arr) - 1"})


@pytest.fixture(scope="module", autouse=True)
def _registered():
    assert register() == ENV_ID and register() == ENV_ID
    assert skyrl_gym.registry[ENV_ID].entry_point == "tracefix_rl.integrations.skyrl:TraceFixSkyRLEnv"


def _make(row, **config):
    env = skyrl_gym.make(ENV_ID, env_config={"record": False, **config}, extras=row)
    assert isinstance(env, TraceFixSkyRLEnv)
    return env


def test_an_episode_earns_its_final_score_on_the_last_turn():
    row = skyrl_rows(tasks=[TASK], seeds=[0])[0]
    assert row["env_class"] == ENV_ID and row["extra_info"]["task_name"] == TASK
    env = _make(row)
    messages, info = env.init(row["prompt"])
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"].startswith("task: binary_search_off_by_one") and info["seed"] == 0
    out = env.step('{"action_type": "RUN_TESTS"}')
    assert out["reward"] == 0.0 and not out["done"] and out["observations"][0]["role"] == "user"
    assert env.step(FIX)["reward"] == 0.0
    out = env.step('{"action_type": "SUBMIT"}')
    assert out["done"] and out["observations"] == []
    assert out["reward"] == out["metadata"]["final_score"] and 0.9 < out["reward"] < 1
    assert env.get_metrics() == {"final_score": out["reward"], "resolved": 1.0, "turns": 3}
    env.close()


def test_running_out_of_turns_submits_for_the_model():
    row = skyrl_rows(tasks=[TASK], seeds=[0], max_turns=2)[0]
    env = _make(row, reward="step")
    env.init([])
    first = env.step('{"action_type": "VIEW_CODE"}')
    last = env.step(FIX)
    assert first["reward"] == pytest.approx(-0.01) and not first["done"]
    assert last["done"] and last["metadata"]["end_reason"] == "submitted"
    assert last["reward"] == pytest.approx(-0.01 + sum(last["metadata"]["reward_breakdown"].values()))
    assert env.get_metrics()["resolved"] == 1.0


def test_rows_name_distinct_episodes_and_bad_settings_are_refused():
    rows = skyrl_rows(tiers=["hard"], seeds=[0, 1], variants=[0])
    assert len(rows) == 20 and len({(r["extra_info"]["task_name"], r["extra_info"]["seed"]) for r in rows}) == 20
    with pytest.raises(ValueError, match="reward"):
        _make(rows[0], reward="sum")
