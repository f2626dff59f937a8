"""The TRACE action: a bounded readable trace of a failing test, the raw CWM text on request."""

from __future__ import annotations

import pytest

from tracefix_rl import CodeAction, TraceFixEnvironment
from tracefix_rl.engines.trace import parse_generated_trace


@pytest.fixture
def env():
    e = TraceFixEnvironment()
    e.reset(task_name="binary_search_off_by_one", seed=0)
    return e


def test_trace_defaults_to_the_first_failing_test(env):
    obs = env.step(CodeAction(action_type="TRACE"))
    out = obs.last_execution_output
    assert out.startswith("Trace of test_missing_above_range:")
    assert "right = len(arr)" in out and obs.trace is None
    assert obs.reward_breakdown == {"step_cost": -0.01} and obs.last_action_error is None


def test_trace_named_test_with_raw_cwm_text(env):
    obs = env.step(CodeAction(action_type="TRACE", test_name="test_found_in_middle", trace_format="cwm"))
    frames, well_formed = parse_generated_trace(obs.trace)
    assert well_formed and frames[0].source.startswith("def main()")
    assert obs.trace.endswith("<|end_of_text|>")
    assert "binary_search([1, 3, 5, 7, 9], 5)" in obs.last_execution_output


def test_trace_of_unknown_test_is_an_invalid_action(env):
    obs = env.step(CodeAction(action_type="TRACE", test_name="test_nope"))
    assert "unknown test_name 'test_nope'" in obs.last_action_error
    assert obs.reward_breakdown["invalid_action"] == pytest.approx(-0.02)


def test_trace_of_a_program_that_never_terminates_is_cut_visibly(env):
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=4, end_line=11,
                        new_code_block="while True:\n    left = left + 0"))
    obs = env.step(CodeAction(action_type="TRACE", test_name="test_empty_list"))
    assert obs.last_action_error is None and not obs.done
    assert "truncat" in obs.last_execution_output.lower()
