"""``reset(task_name=..., variant=k)``: deterministic, validated variants of a base task."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tracefix_rl.core.errors import TaskError
from tracefix_rl.data.tasks import Task, builtin_tasks
from tracefix_rl.data.tasks import TestSpec as Spec
from tracefix_rl.data.tasks._validate import validate_candidate
from tracefix_rl.data.tasks._variants import make_variant
from tracefix_rl.engines.mutation import normalized

BASE = "binary_search_off_by_one"


def test_variant_k_is_a_valid_distinct_mutant_of_the_reference():
    task = builtin_tasks()[BASE]
    seen = {normalized(task.buggy), normalized(task.reference)}
    for k in (1, 2, 3):
        v = make_variant(task, k)
        assert v.name == task.name and v.reference == task.reference
        assert [t.call for t in v.all_tests] == [t.call for t in task.all_tests]  # same tests, own roles
        assert normalized(v.buggy) not in seen
        seen.add(normalized(v.buggy))
        verdict = validate_candidate(v.reference, v.buggy, v.tests, v.hidden_tests, entry_point=v.entry_point)
        assert verdict.ok and v == v.with_roles(verdict.failing_tests(v.tests, v.hidden_tests))
        prov = v.provenance
        assert prov["variant"] == k and prov["base_task"] == task.name and prov["base_hash"] == task.content_hash
        assert prov["operators"] and prov["rating"]["tier"] == v.difficulty
    assert make_variant(task, 0) is task
    with pytest.raises(TaskError):
        make_variant(task, -1)


def test_variants_are_the_same_in_a_fresh_process():
    task = builtin_tasks()[BASE]
    here = [make_variant(task, k).buggy for k in (1, 4)]
    code = ("import json; from tracefix_rl.data.tasks import get_task; from tracefix_rl.data.tasks._variants import make_variant; "
            f"t = get_task({BASE!r}); print(json.dumps([make_variant(t, k).buggy for k in (1, 4)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here


def test_a_program_with_few_mutants_runs_out_of_variants():
    tests = (Spec(name="t", call="f(2)", expected="3"),)
    hidden = (Spec(name="h", call="f(5)", expected="6"),)
    task = Task(name="tiny", difficulty="easy", entry_point="f", description="f(x) is x + 1.",
                reference="def f(x):\n    return x + 1\n", buggy="def f(x):\n    return x + 2\n",
                tests=tests, hidden_tests=hidden)
    first = make_variant(task, 1)
    assert first.buggy != task.buggy
    with pytest.raises(TaskError, match="no variant 40"):
        make_variant(task, 40)


def test_environment_reset_with_variant_and_provenance_stays_hidden():
    from tracefix_rl.env import TraceFixEnvironment

    env = TraceFixEnvironment()
    a = env.reset(task_name=BASE, variant=2, seed=1)
    hidden_task = env.task
    assert env.state.variant == 2 and a.task_name == BASE
    b = env.reset(task_name=BASE, variant=2, seed=5)
    assert env.task.buggy == hidden_task.buggy
    text = json.dumps(b.model_dump(), default=str)
    for secret in (hidden_task.bug_description, json.dumps(hidden_task.provenance)):
        assert secret not in text
    for m in hidden_task.provenance["mutations"]:
        assert m["operator"] not in text
    assert "test_found_at_start" not in text  # hidden test names stay hidden too
    base = env.reset(task_name=BASE, seed=1)
    assert env.task.buggy == builtin_tasks()[BASE].buggy and base.task_name == BASE


def test_pack_tasks_have_variants_too(tmp_path):
    from tracefix_rl.data.tasks._pack import write_pack
    from tracefix_rl.env import TraceFixEnvironment

    bank = builtin_tasks()
    path = write_pack([bank["factorial_off_by_one"], bank[BASE]], tmp_path / "p.jsonl")
    env = TraceFixEnvironment()
    env.reset(task_pack=str(path), task_name="factorial_off_by_one", variant=1, seed=0)
    assert env.task.provenance["variant"] == 1
    assert env.task.buggy == make_variant(bank["factorial_off_by_one"], 1).buggy
