"""The final score pays for fixing the bug and for nothing else, on every source of tasks.

Over every built-in task, a 200-task generated pack and every importer's sample data, played
through the real environment and sandbox (one edit, then SUBMIT):

* the unchanged buggy program scores the minimum;
* a program that special-cases the visible tests' inputs (the hard-coder probe) scores at
  most 0.30 and is not resolved;
* the reference scores at least 0.9 and is resolved;
* fixing some but not all FAIL_TO_PASS inputs scores strictly between the two.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
from tracefix_rl.core.scoring import SCORE_MIN
from tracefix_rl.data.tasks import list_tasks
from tracefix_rl.data.tasks._pack import TaskPack
from tracefix_rl.engines.probes import hardcode_program, partial_fix_program
from tracefix_rl.engines.sandbox import Limits

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "tasks" / "samples"


def _generated(count: int) -> list:
    from tracefix_rl.data.tasks._build import build_tasks
    from tracefix_rl.data.tasks._corpus import corpus_programs

    report = build_tasks(list(corpus_programs()), target=count, seed=7, workers=2)
    assert len(report.tasks) == count
    return report.tasks


def _imported() -> list:
    from tracefix_rl.data.tasks._build import build_tasks
    from tracefix_rl.data.tasks.importers import humaneval_programs, import_humanevalfix, import_quixbugs

    tasks = import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl").tasks
    tasks += import_quixbugs(SAMPLES / "quixbugs").tasks
    programs = humaneval_programs(SAMPLES / "humaneval_sample.jsonl").tasks
    tasks += build_tasks(programs, target=6, seed=0, workers=2).tasks
    return tasks


SOURCES = {"builtin": lambda: list_tasks(), "generated": lambda: _generated(200), "imported": _imported}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def source(request):
    return request.param, SOURCES[request.param]()


# Hanging buggy programs (kept by the importers) would wait out the default 5 s limit at every SUBMIT.
LIMITS = Limits(wall_s=2.0, cpu_s=2, per_test_s=0.5)


def _submit(task, program: str | None):
    env = TraceFixEnvironment(EnvConfig(limits=LIMITS),
                              task_source=TaskPack(Path("<test>"), {}, [task]))
    obs = env.reset(task_name=task.name, seed=0)
    if program is not None:
        obs = env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=len(obs.code_dict),
                                  new_code_block=program))
        assert obs.last_action_error is None
    obs = env.step(CodeAction(action_type="SUBMIT"))
    assert obs.done and not obs.infra_error
    return obs


def test_every_task_pays_only_for_the_fix(source):
    name, tasks = source
    assert tasks, name
    bad: list[str] = []
    probed = partial = 0
    for task in tasks:
        unchanged = _submit(task, None)
        if unchanged.final_score != SCORE_MIN or unchanged.resolved:
            bad.append(f"{task.name}: the unchanged program scores {unchanged.final_score}")
        fixed = _submit(task, task.reference)
        if not (fixed.resolved and fixed.final_score >= 0.9):
            bad.append(f"{task.name}: the reference scores {fixed.final_score}, resolved={fixed.resolved}")
        cheat = hardcode_program(task)
        if cheat is not None:
            probed += 1
            obs = _submit(task, cheat)
            if obs.resolved or obs.final_score > 0.30:
                bad.append(f"{task.name}: hard-coding the visible tests scores {obs.final_score}")
        f2p = [t.name for t in task.all_tests if t.role == "fail_to_pass"]
        half = partial_fix_program(task, f2p[:1]) if len(f2p) > 1 else None
        if half is not None:
            obs = _submit(task, half)
            if obs.resolved:
                continue  # the one input fixed them all (shared inputs): not a partial fix
            partial += 1
            if not unchanged.final_score < obs.final_score < fixed.final_score:
                bad.append(f"{task.name}: a partial fix scores {obs.final_score} (unchanged "
                           f"{unchanged.final_score}, fixed {fixed.final_score})")
    assert not bad, "\n".join(bad)
    # the probes apply to almost every task (all but class entry points and pytest-style tests)
    assert probed >= 0.7 * len(tasks), (name, probed, len(tasks))
    assert partial >= 0.5 * len(tasks), (name, partial, len(tasks))
