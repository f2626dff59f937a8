"""Every kind of pack runs in the environment: a random and a scripted policy on a sample of each.

The packs: one built by the mutation engine (built-in corpus plus a human-eval sample file),
one imported from the HumanEvalFix sample and one from the QuixBugs sample (both contain a
program that loops forever when buggy). The environment is configured with short sandbox
limits so the hanging programs cost little.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tracefix_rl.agents import oracle_actions
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.tasks._build import build_tasks
from tracefix_rl.data.tasks._corpus import corpus_programs
from tracefix_rl.data.tasks._pack import open_pack, write_pack
from tracefix_rl.data.tasks.importers import humaneval_programs, import_humanevalfix, import_quixbugs
from tracefix_rl.engines.sandbox import Limits
from tracefix_rl.env import TraceFixEnvironment

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("packs")
    programs = [p for p in corpus_programs() if p.name in ("is_prime", "two_stack_queue", "csv_line")]
    programs += humaneval_programs(SAMPLES / "humaneval_sample.jsonl").tasks
    built = build_tasks(programs, target=10, seed=0, workers=3)
    return {
        "built": write_pack(built.tasks, root / "built.jsonl"),
        "humanevalfix": write_pack(import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl").tasks, root / "hef"),
        "quixbugs": write_pack(import_quixbugs(SAMPLES / "quixbugs").tasks, root / "quix.jsonl"),
    }


def _env():
    from tracefix_rl.core.config import EnvConfig

    return TraceFixEnvironment(EnvConfig(max_steps=12, limits=Limits(wall_s=2.0, cpu_s=2, per_test_s=0.5)))


def _sample(path, n=4):
    tasks = open_pack(path).tasks()
    step = max(1, len(tasks) // n)
    return tasks[::step][:n]


def _random_policy(seed):
    try:
        from tracefix_rl.agents.random_policy import RandomPolicy
    except ImportError:  # pragma: no cover - the policy lands separately
        pytest.skip("tracefix_rl.agents.random_policy is not available")
    return RandomPolicy(seed, submit_prob=0.05)


@pytest.mark.parametrize("kind", ["built", "humanevalfix", "quixbugs"])
def test_scripted_policy_solves_sampled_tasks(packs, kind):
    env = _env()
    for task in _sample(packs[kind]):
        obs = env.reset(task_pack=str(packs[kind]), task_name=task.name, seed=0)
        assert obs.task_name == task.name
        for action in oracle_actions(env.task, trace=False):
            obs = env.step(action)
            if obs.done:
                break
        assert obs.done and obs.final_score is not None
        assert obs.final_score >= 0.9, (task.name, obs.last_execution_output)


@pytest.mark.parametrize("kind", ["built", "humanevalfix", "quixbugs"])
def test_random_policy_runs_on_sampled_tasks(packs, kind):
    env = _env()
    for i, task in enumerate(_sample(packs[kind], 3)):
        policy = _random_policy(i)
        obs = env.reset(task_pack=str(packs[kind]), task_name=task.name, seed=i)
        for _ in range(8):
            obs = env.step(policy.act(obs))
            assert obs.reward is None or math.isfinite(obs.reward)
            if obs.done:
                break
        if not obs.done:
            obs = env.step(CodeAction(action_type="SUBMIT"))
        assert obs.done and obs.final_score is not None and 0 < obs.final_score < 1
