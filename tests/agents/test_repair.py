"""The model-free repair baseline: single edits land exactly, candidates undo the mutation
operators, and the agent repairs through the environment's actions only."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tracefix_rl.agents.repair import RepairAgent, candidate_edits, edit_action
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.engines.mutation import apply_mutations, find_sites, normalized
from tracefix_rl.env import TraceFixEnvironment
from tracefix_rl.env._editor import Buffer

ALLOWED = {"VIEW_CODE", "RUN_TESTS", "TRACE", "REPLACE_LINES", "UNDO_EDIT", "SUBMIT"}

_LINE = st.sampled_from(["def f(x):", "    return x", "    y = 1", "        z = y", "", "    # note", "if x:",
                         "        pass", "x = 2", "    for i in range(3):"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=12), st.lists(_LINE, min_size=1, max_size=12))
def test_one_edit_turns_any_program_into_any_other_in_the_real_editor(current, target):
    buffer = Buffer("\n".join(["def f(x):", *current]))  # a program's first line is never indented
    current = list(buffer.lines)
    assume(current != target and any(t.strip() for t in target))
    action = edit_action(current, target)
    assert buffer.range_error(action.start_line, action.end_line) is None
    buffer.replace(action.start_line, action.end_line, action.new_code_block or "")
    assert buffer.lines == target


SOURCE = '''def score(values, limit):
    total = 0
    best = None
    for v in values:
        if v < limit and v % 2 == 0:
            total += v
        elif best is None or v > best:
            best = v
    summary = [total, best, min(values), values[1:]]
    return summary
'''


def test_candidates_undo_every_single_mutation_of_the_self_inverse_operators():
    """For each site of these operators, the mutated program's candidates contain the original."""
    reference = normalized(SOURCE)
    operators = ["arith_swap", "compare_swap", "condition_flip", "bool_op_swap", "wrong_variable",
                 "swap_arguments", "off_by_one_range", "wrong_builtin", "missing_return", "missing_accumulator"]
    checked = 0
    for site in find_sites(SOURCE, operators):
        mutant = apply_mutations(SOURCE, [site]).source
        found = {normalized(c.build() or "") for c in candidate_edits(mutant)}
        assert reference in found, (site, mutant)
        checked += 1
    assert checked > 40


def test_every_candidate_is_a_program_that_parses_and_differs():
    for edit in candidate_edits(SOURCE):
        built = edit.build()
        assert built is None or (normalized(built) is not None and normalized(built) != normalized(SOURCE)), edit


def _play(task: str, seed: int = 0):
    env = TraceFixEnvironment(EnvConfig())
    obs = env.reset(task_name=task, seed=seed)
    agent, actions = RepairAgent(), []
    while not obs.done:
        action = agent.act(obs)
        actions.append(action)
        obs = env.step(action)
        assert not obs.last_action_error, (action, obs.last_action_error)
    return obs, actions


@pytest.mark.parametrize("task", ["sum_even_wrong_condition", "binary_search_off_by_one", "count_char_early_return",
                                  "find_max_wrong_initial", "merge_intervals_strict_overlap"])
def test_repairs_bank_tasks_with_the_agent_actions_only(task):
    obs, actions = _play(task)
    assert obs.resolved and obs.end_reason == "submitted"
    assert {a.action_type for a in actions} <= ALLOWED
    assert actions[-1].action_type == "SUBMIT" and actions[0].action_type == "RUN_TESTS"


def test_an_unrepairable_task_ends_within_budget_with_the_best_program_submitted():
    obs, actions = _play("fizzbuzz_wrong_order")  # two lines trade places: no single edit fixes it
    assert obs.done and not obs.resolved and len(actions) <= 50
    assert actions[-1].action_type == "SUBMIT"


def test_same_observations_same_actions():
    first = [a.model_dump() for a in _play("binary_search_wrong_mid", seed=3)[1]]
    again = [a.model_dump() for a in _play("binary_search_wrong_mid", seed=3)[1]]
    assert first == again


def test_over_the_wire_it_sees_only_observations(env_server, tmp_path):
    """Against the real server the agent has nothing but the wire observations, and still repairs."""
    from tracefix_rl.evaluation import EvalOptions, EvalRunner, make_policy_agent, select_tasks

    tasks = select_tasks(names=["task1_easy", "sum_even_wrong_condition", "binary_search_wrong_mid"])
    outcome = EvalRunner(make_policy_agent("repair"), tasks,
                         EvalOptions(output_dir=tmp_path, env_url=env_server.url, workers=2)).run()
    assert outcome.ok and outcome.report.resolved_episodes == 3
    assert set(outcome.report.action_mix) <= ALLOWED
