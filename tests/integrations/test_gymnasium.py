"""The Gymnasium adapter through Gymnasium's own entry points: register/make, check_env, vector envs."""

from __future__ import annotations

import json
import warnings

import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from tracefix_rl.integrations.gymnasium import CHARSET, ENV_ID, TraceFixGymEnv, register  # noqa: E402

SUBMIT = '{"action_type": "SUBMIT"}'


@pytest.fixture(scope="module", autouse=True)
def _registered():
    assert register() == ENV_ID
    assert register() == ENV_ID  # idempotent


def test_the_registered_env_passes_check_env():
    env = gym.make(ENV_ID, difficulty="easy", record=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    unexpected = [str(w.message) for w in caught if "render fps" not in str(w.message)]
    assert unexpected == []
    env.close()


def test_reset_seeding_follows_gymnasium_rules():
    env = gym.make(ENV_ID, difficulty="medium", record=False)
    first, info1 = env.reset(seed=5)
    after = env.reset()[1]["seed"]
    again, info2 = env.reset(seed=5)
    assert first == again and info1["seed"] == info2["seed"] == 5
    assert env.reset()[1]["seed"] == after  # seed=None draws from the seeded np_random
    env.close()


def test_observations_stay_inside_the_text_space_whatever_the_program_prints():
    env = TraceFixGymEnv(task_name="binary_search_off_by_one", record=False, render_mode="ansi")
    obs, _ = env.reset(seed=0)
    block = "print('é ✓ \\r', arr)\nright = len(arr) - 1"
    obs, *_ = env.step(json.dumps({"action_type": "REPLACE_LINES", "start_line": 3, "end_line": 3,
                                   "new_code_block": block}))
    obs, *_ = env.step('{"action_type": "RUN_TESTS"}')
    assert obs in env.observation_space and set(obs) <= set(CHARSET)
    assert "\\xe9 \\u2713" in obs  # escaped, not dropped
    assert env.render() == obs
    for _ in range(3):
        sample = env.action_space.sample()
        assert sample in env.action_space
        obs, reward, terminated, truncated, info = env.step(sample)
        if not terminated:
            assert obs.startswith("PARSE_ERROR") and reward == 0.0
    env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_batch_episodes(mode):
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode, difficulty="easy", record=False, **kwargs)
    try:
        obs, info = envs.reset(seed=[1, 2])
        assert isinstance(obs, tuple) and len(obs) == 2 and all(o.startswith("task: ") for o in obs)
        obs, reward, terminated, truncated, info = envs.step(('{"action_type": "RUN_TESTS"}', "not json"))
        assert reward[0] == pytest.approx(-0.01) and reward[1] == 0.0 and not terminated.any()
        obs, reward, terminated, truncated, info = envs.step((SUBMIT, SUBMIT))
        assert terminated.all() and (info["final_score"] > 0).all()
        assert list(reward) == pytest.approx([s - 0.01 for s in info["final_score"]])
    finally:
        envs.close()
