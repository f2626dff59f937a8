"""The in-process environment's contract: actions, validation, rewards, scoring, determinism."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tracefix_rl import CodeAction, EnvConfig, RewardConfig, TraceFixEnvironment
from tracefix_rl.agents import fix_actions
from tracefix_rl.core.errors import ResetArgumentError, ResetNeededError, UnknownTaskError
from tracefix_rl.core.trajectory import observation_hash
from tracefix_rl.data.tasks import get_task

TASK = "binary_search_off_by_one"


def act(action_type, **kw):
    return CodeAction(action_type=action_type, **kw)


@pytest.fixture
def env():
    e = TraceFixEnvironment()
    e.reset(task_name=TASK, seed=3)
    return e


def test_reset_shows_buggy_program_and_budget(env):
    obs = env.reset(task_name=TASK, seed=3)
    task = get_task(TASK)
    assert obs.code_dict == {i + 1: ln for i, ln in enumerate(task.buggy.splitlines())}
    assert obs.step_count == 0 and obs.steps_remaining == 50 and not obs.done
    assert obs.task_name == TASK and obs.difficulty == "medium" and obs.episode_id
    assert obs.final_score is None and obs.reward is None
    assert "Hidden tests run at SUBMIT" in obs.last_execution_output


def test_reset_accepts_alias_and_rejects_unknown_names():
    env = TraceFixEnvironment()
    assert env.reset(task_name="task2_medium").task_name == TASK
    with pytest.raises(UnknownTaskError, match="did you mean"):
        env.reset(task_name="binary_search_of_by_one")
    with pytest.raises(ResetArgumentError, match="'variant': must be from 0 to 16, got 1000000"):
        env.reset(task_name=TASK, variant=10**6)  # bounded before any sandbox work
    with pytest.raises(ResetArgumentError, match="'variant'"):
        env.reset(task_name=TASK, variant=-1)


def test_variants_are_deterministic_and_differ_from_the_original():
    first = TraceFixEnvironment().reset(task_name=TASK, variant=3, seed=0)
    again = TraceFixEnvironment().reset(task_name=TASK, variant=3, seed=0)
    original = TraceFixEnvironment().reset(task_name=TASK, seed=0)
    assert observation_hash(first) == observation_hash(again)
    assert first.code_dict != original.code_dict and first.task_name == TASK


def test_step_before_reset_raises():
    with pytest.raises(ResetNeededError):
        TraceFixEnvironment().step(act("VIEW_CODE"))


def test_view_code_lists_numbered_source(env):
    obs = env.step(act("VIEW_CODE"))
    assert obs.last_execution_output.startswith("=== Full Source ===")
    assert "  3 |     right = len(arr)" in obs.last_execution_output
    assert obs.reward == pytest.approx(-0.01) and obs.reward_breakdown == {"step_cost": -0.01}


def test_run_tests_reports_structured_results_and_pass_count(env):
    obs = env.step(act("RUN_TESTS"))
    assert obs.last_execution_output.splitlines()[0] == "Tests Passed: 2/4"
    assert "SUCCESS: ALL TESTS PASSED" not in obs.last_execution_output
    assert (obs.tests_passed, obs.tests_total) == (2, 4)
    failing = [r for r in obs.test_results if not r.passed]
    assert {r.test_name for r in failing} == {"test_missing_above_range", "test_empty_list"}
    r = failing[0]
    assert r.status == "error" and r.expected == "-1" and r.exception.startswith("IndexError")
    assert r.line == 6
    assert "▶  6 |" in obs.localized_context  # the anchor follows the failing line


def test_fixing_fail_to_pass_tests_earns_the_fail_to_pass_term(env):
    obs = env.step(act("REPLACE_LINES", start_line=3, end_line=3, new_code_block="right = len(arr) - 1"))
    assert obs.code_dict[3] == "    right = len(arr) - 1"
    assert "▶  3 |" in obs.localized_context
    obs = env.step(act("RUN_TESTS"))
    assert obs.tests_passed == 4
    assert obs.last_execution_output.startswith("Tests Passed: 4/4\n\nSUCCESS: ALL TESTS PASSED")
    assert obs.reward_breakdown["fail_to_pass"] == pytest.approx(0.10)  # the two FAIL_TO_PASS tests


def test_breaking_pass_to_pass_tests_is_penalised_and_refixing_pays_it_back(env):
    env.step(act("RUN_TESTS"))
    obs = env.step(act("REPLACE_LINES", start_line=12, end_line=12, new_code_block="    return -2"))
    obs = env.step(act("RUN_TESTS"))
    assert "pass_to_pass" not in obs.reward_breakdown  # the -1 tests were already failing
    assert "fail_to_pass" not in obs.reward_breakdown
    obs = env.step(act("REPLACE_LINES", start_line=7, end_line=7, new_code_block="            return mid + 1"))
    obs = env.step(act("RUN_TESTS"))
    assert obs.reward_breakdown["pass_to_pass"] == pytest.approx(-0.10)
    assert obs.tests_passed == 0
    env.step(act("REPLACE_LINES", start_line=7, end_line=7, new_code_block="            return mid"))
    obs = env.step(act("RUN_TESTS"))
    assert obs.reward_breakdown["pass_to_pass"] == pytest.approx(0.10)  # potential-based: nothing to farm


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end_line": 3, "new_code_block": "x"}, "needs both start_line and end_line"),
        ({"start_line": 0, "end_line": 1, "new_code_block": "x"}, "start_line must be >= 1"),
        ({"start_line": 5, "end_line": 4, "new_code_block": "x"}, "must be <= end_line"),
        ({"start_line": 3, "end_line": 14, "new_code_block": "x"}, "past the end: the file has 12 lines"),
        ({"start_line": 3, "end_line": 3}, "needs new_code_block"),
    ],
)
def test_invalid_replace_is_an_observation_with_penalty(env, kwargs, message):
    before = env.step(act("VIEW_CODE")).code_dict
    obs = env.step(act("REPLACE_LINES", **kwargs))
    assert message in obs.last_action_error
    assert obs.reward_breakdown["invalid_action"] == pytest.approx(-0.02)
    assert obs.code_dict == before and not obs.done
    assert env.step(act("RUN_TESTS")).tests_total == 4  # the episode goes on


def test_destructive_empty_block_is_refused(env):
    obs = env.step(act("REPLACE_LINES", start_line=1, end_line=12, new_code_block=""))
    assert "Refused" in obs.last_action_error and len(obs.code_dict) == 12
    assert obs.reward_breakdown["destructive_edit"] == pytest.approx(-0.20)


def test_shape_errors_are_rejected_by_the_model():
    with pytest.raises(ValidationError):
        CodeAction(action_type="RUN_TEST")
    with pytest.raises(ValidationError):
        CodeAction(action_type="RUN_TESTS", unexpected=1)
    with pytest.raises(ValidationError):
        CodeAction(action_type="REPLACE_LINES", start_line="three")
    assert CodeAction(action_type="REPLACE_LINES", start_line="12", end_line=12.0).start_line == 12


def test_stray_fields_on_other_actions_are_ignored(env):
    obs = env.step(act("RUN_TESTS", start_line=99, end_line=1, new_code_block="boom"))
    assert obs.last_action_error is None and obs.tests_total == 4


def test_auto_indent_keeps_relative_indentation(env):
    block = "if arr and target > arr[-1]:\n    return -1\nright = len(arr) - 1"
    obs = env.step(act("REPLACE_LINES", start_line=3, end_line=3, new_code_block=block))
    assert [obs.code_dict[i] for i in (3, 4, 5)] == [
        "    if arr and target > arr[-1]:", "        return -1", "    right = len(arr) - 1"]
    assert not obs.syntax_error


def test_explicit_indentation_is_respected_so_lines_can_be_dedented():
    env = TraceFixEnvironment()
    env.reset(task_name=TASK)
    obs = env.step(act("REPLACE_LINES", start_line=12, end_line=12, new_code_block="        return -1"))
    assert obs.code_dict[12] == "        return -1"
    obs = env.step(act("REPLACE_LINES", start_line=12, end_line=12, new_code_block="    return -1"))
    assert obs.code_dict[12] == "    return -1"


def test_insert_append_and_delete(env):
    obs = env.step(act("REPLACE_LINES", start_line=13, end_line=13, new_code_block="\nHELPER = 1"))
    assert len(obs.code_dict) == 14 and obs.code_dict[14] == "HELPER = 1"
    obs = env.step(act("REPLACE_LINES", start_line=13, end_line=14, new_code_block=""))
    assert len(obs.code_dict) == 12
    obs = env.step(act("REPLACE_LINES", start_line=3, end_line=3, new_code_block="n = len(arr)\nright = n - 1"))
    assert obs.code_dict[3] == "    n = len(arr)" and obs.code_dict[4] == "    right = n - 1"


def test_syntax_error_is_reported_and_penalised(env):
    obs = env.step(act("REPLACE_LINES", start_line=4, end_line=4, new_code_block="while left <= right"))
    assert obs.syntax_error and obs.syntax_error_line == 4 and "expected ':'" in obs.syntax_error_message
    assert obs.reward_breakdown["syntax_error"] == pytest.approx(-0.10)
    obs = env.step(act("RUN_TESTS"))
    assert "SyntaxError at line 4" in obs.last_execution_output and obs.tests_passed == 0
    assert all(r.status == "not_run" for r in obs.test_results)


def test_undo_is_unlimited_and_reset_restores_the_original(env):
    original = env.step(act("VIEW_CODE")).code_dict
    for i in range(1, 4):
        env.step(act("REPLACE_LINES", start_line=2, end_line=2, new_code_block=f"left = {i}"))
    assert env.step(act("UNDO_EDIT")).code_dict[2] == "    left = 2"
    assert env.step(act("UNDO_EDIT")).code_dict[2] == "    left = 1"
    obs = env.step(act("UNDO_EDIT"))
    assert obs.code_dict == original and obs.reward_breakdown["undo_reset"] == pytest.approx(-0.10)
    assert "Nothing to undo" in env.step(act("UNDO_EDIT")).last_execution_output
    env.step(act("REPLACE_LINES", start_line=2, end_line=2, new_code_block="left = 9"))
    obs = env.step(act("RESET_TO_ORIGINAL"))
    assert obs.code_dict == original and "Nothing to undo" in env.step(act("UNDO_EDIT")).last_execution_output


def test_repeated_identical_actions_cost_more_each_time(env):
    env.step(act("RUN_TESTS"))
    assert env.step(act("RUN_TESTS")).reward_breakdown["repeated_action"] == pytest.approx(-0.05)
    assert env.step(act("RUN_TESTS")).reward_breakdown["repeated_action"] == pytest.approx(-0.10)
    assert "repeated_action" not in env.step(act("VIEW_CODE")).reward_breakdown


def test_submit_after_fix_scores_high_but_below_one(env):
    env.step(act("VIEW_CODE"))
    env.step(act("RUN_TESTS"))
    for a in fix_actions(get_task(TASK).buggy, get_task(TASK).reference):
        env.step(a)
    env.step(act("RUN_TESTS"))
    obs = env.step(act("SUBMIT"))
    assert obs.done and obs.end_reason == "submitted"
    assert obs.resolved and obs.final_score == pytest.approx(0.96)  # 0.98 - 0.004 x 5 steps
    assert (obs.hidden_tests_passed, obs.hidden_tests_total) == (5, 5)
    assert "RESOLVED" in obs.last_execution_output
    assert obs.reward_breakdown["final_score"] == obs.final_score
    after = env.step(act("VIEW_CODE"))
    assert after.done and "episode is over" in after.last_action_error and after.step_count == 5


def test_submitting_the_buggy_program_scores_the_minimum(env):
    obs = env.step(act("SUBMIT"))
    assert obs.done and obs.final_score == 0.01 and obs.resolved is False
    assert "NOT RESOLVED" in obs.last_execution_output


def test_the_original_pass_rate_formula_is_an_option():
    env = TraceFixEnvironment(EnvConfig(reward=RewardConfig(scoring="pass_rate")))
    env.reset(task_name=TASK, seed=0)
    obs = env.step(act("SUBMIT"))
    assert obs.final_score == pytest.approx(round(6 / 9 - 0.01, 2))  # 2/4 visible, 4/5 hidden, 1 step


def test_hard_coding_the_visible_cases_does_not_score_well(env):
    cheat = ("def binary_search(arr, target):\n"
             "    table = {(1, 3, 5, 7, 9): {5: 2, 9: 4, 10: -1}, (): {3: -1}}\n"
             "    return table[tuple(arr)][target]")
    obs = env.step(act("REPLACE_LINES", start_line=1, end_line=12, new_code_block=cheat))
    assert env.step(act("RUN_TESTS")).tests_passed == 4
    obs = env.step(act("SUBMIT"))
    assert obs.hidden_tests_passed == 0 and not obs.resolved and obs.final_score <= 0.26


def test_step_budget_ends_the_episode_with_a_score():
    env = TraceFixEnvironment(EnvConfig(max_steps=3))
    env.reset(task_name=TASK, seed=1)
    env.step(act("VIEW_CODE"))
    env.step(act("UNDO_EDIT"))
    obs = env.step(act("VIEW_CODE"))
    assert obs.done and obs.end_reason == "step_budget" and obs.steps_remaining == 0
    assert 0 < obs.final_score < 1 and "Step budget exhausted" in obs.last_execution_output


@pytest.mark.parametrize(
    "body",
    [
        "    print('Tests Passed: 4/4')\n    print('SUCCESS: ALL TESTS PASSED')\n    return -1",
        "    return 'Tests Passed: 4/4 SUCCESS: ALL TESTS PASSED'",
        "    raise ValueError('Tests Passed: 4/4\\nSUCCESS: ALL TESTS PASSED')",
        "    import os\n    os.write(1, b'Tests Passed: 4/4\\nSUCCESS: ALL TESTS PASSED\\n')\n    return -1",
    ],
)
def test_program_output_cannot_fake_the_result_markers(env, body):
    program = "def binary_search(arr, target):\n" + body
    env.step(act("REPLACE_LINES", start_line=1, end_line=12, new_code_block=program))
    obs = env.step(act("RUN_TESTS"))
    out = obs.last_execution_output
    assert out.splitlines()[0].startswith("Tests Passed: ") and out.splitlines()[0] != "Tests Passed: 4/4"
    assert "SUCCESS: ALL TESTS PASSED" not in out
    assert out.count("Tests Passed:") == 1
    assert obs.tests_passed < 4 and not all(r.passed for r in obs.test_results)


def test_listings_neutralise_markers_but_code_dict_stays_exact(env):
    line = "MARK = 'Tests Passed: 4/4 SUCCESS: ALL TESTS PASSED'"
    obs = env.step(act("REPLACE_LINES", start_line=13, end_line=13, new_code_block=line))
    assert obs.code_dict[13] == line
    for text in (env.step(act("VIEW_CODE")).last_execution_output, obs.localized_context):
        assert "Tests Passed:" not in text and "SUCCESS: ALL TESTS PASSED" not in text


def _trajectory(seed, task_name=TASK):
    env = TraceFixEnvironment()
    hashes = [observation_hash(env.reset(task_name=task_name, seed=seed))]
    for a in [act("RUN_TESTS"), act("REPLACE_LINES", start_line=3, end_line=3, new_code_block="right = 0"),
              act("RUN_TESTS"), act("UNDO_EDIT"), act("SUBMIT")]:
        obs = env.step(a)
        hashes.append((observation_hash(obs), obs.reward, obs.final_score))
    return hashes


def test_reset_with_the_same_arguments_gives_the_same_episode():
    assert _trajectory(7) == _trajectory(7)


def test_unseeded_resets_follow_the_config_seed():
    def first_seeds(config_seed):
        env = TraceFixEnvironment(EnvConfig(seed=config_seed))
        return [(env.reset(), env.state.seed)[1] for _ in range(3)]

    assert first_seeds(1) == first_seeds(1) != first_seeds(2)
    env = TraceFixEnvironment()
    seeds = [(env.reset(), env.state.seed)[1] for _ in range(3)]
    assert len(set(seeds)) == 3
    assert TraceFixEnvironment().reset(seed=seeds[1]).task_name == TraceFixEnvironment().reset(seed=seeds[1]).task_name


def test_difficulty_sampling_stays_in_the_tier():
    env = TraceFixEnvironment()
    for seed in range(10):
        assert env.reset(difficulty="medium", seed=seed).difficulty == "medium"


def test_state_reports_episode_bookkeeping(env):
    env.step(act("VIEW_CODE"))
    st = env.state
    assert (st.task_name, st.seed, st.variant, st.step_count, st.done) == (TASK, 3, 0, 1, False)
    assert st.isolation


def test_oversized_text_is_refused_without_ending_the_episode():
    from tracefix_rl.core.models import MAX_BLOCK_CHARS

    with pytest.raises(ValidationError, match="at most"):
        CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=1, new_code_block="x" * (MAX_BLOCK_CHARS + 1))
    env = TraceFixEnvironment(EnvConfig(max_program_chars=2_000))
    env.reset(task_name=TASK, seed=0)
    block = "\n".join(f"PAD_{i} = {i}" for i in range(200))  # ~2.3k chars: within the field cap
    obs = env.step(act("REPLACE_LINES", start_line=13, end_line=13, new_code_block=block))
    assert "would exceed 2000 characters" in obs.last_action_error and len(obs.code_dict) == 12
    assert obs.reward_breakdown["invalid_action"] == pytest.approx(-0.02) and not obs.done
