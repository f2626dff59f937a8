"""Benchmark: what each policy earns, so the score pays for fixing the bug and for nothing else.

For every task of a source (the built-in bank by default; ``--pack PATH`` for a task pack,
``--build N`` for N freshly generated tasks) it plays one episode per policy in the in-process
environment (recording off) and reports the mean final score, how many tasks score at least
0.5, and how many are resolved:

* ``unchanged``: SUBMIT the buggy program as it is;
* ``hardcode``: one edit that wraps the buggy entry point so the visible tests' inputs return
  their expected values (the observation shows them), then SUBMIT; tasks with no function
  entry point submit unchanged;
* ``partial``: one edit that makes one FAIL_TO_PASS input (of several) behave as the
  reference, then SUBMIT (tasks with a single FAIL_TO_PASS test are left out);
* ``reference``: one edit to the reference solution, then SUBMIT.

Usage::

    .venv/bin/python bench/bench_reward.py [--quick] [--pack PATH | --build N] [--json PATH]

``--quick`` plays the built-in bank only (30 tasks, about 10 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit  # noqa: E402

POLICIES = ("unchanged", "hardcode", "partial", "reference")


def _tasks(args: argparse.Namespace) -> list[Any]:
    if args.pack:
        from tracefix_rl.data.tasks import read_pack

        return list(read_pack(args.pack)[1])
    if args.build:
        from tracefix_rl.data.tasks._build import build_tasks
        from tracefix_rl.data.tasks._corpus import corpus_programs

        return build_tasks(list(corpus_programs()), target=args.build, seed=0).tasks
    from tracefix_rl.data.tasks import list_tasks

    return list_tasks()


def fail_to_pass(task: Any) -> list[str]:
    """Names of the task's FAIL_TO_PASS tests, visible first (from the stored roles)."""
    if all(hasattr(t, "role") for t in task.all_tests):
        return [t.name for t in task.all_tests if t.role == "fail_to_pass"]
    from tracefix_rl.engines.judge import run_tests  # tasks without stored roles (older versions)

    run = run_tests(task.buggy, task.all_tests)
    return [r.test_name for r in run.results if not r.passed]


def play(task: Any, program: str | None) -> Any:
    """One episode on ``task``: replace the whole program with ``program`` (if any), then SUBMIT."""
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
    from tracefix_rl.data.tasks._pack import TaskPack

    env = TraceFixEnvironment(EnvConfig(), task_source=TaskPack(Path("<bench>"), {}, [task]))
    obs = env.reset(task_name=task.name, seed=0)
    if program is not None:
        obs = env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=len(obs.code_dict),
                                  new_code_block=program))
    return env.step(CodeAction(action_type="SUBMIT"))


def program_for(policy: str, task: Any) -> tuple[bool, str | None]:
    """``(applies, program)`` for one policy on one task (``program=None`` submits unchanged)."""
    from tracefix_rl.engines.probes import hardcode_program, partial_fix_program

    if policy == "unchanged":
        return True, None
    if policy == "hardcode":
        return True, hardcode_program(task)
    if policy == "reference":
        return True, task.reference
    f2p = fail_to_pass(task)
    if len(f2p) < 2:
        return False, None
    program = partial_fix_program(task, f2p[:1])
    return program is not None, program


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pack")
    ap.add_argument("--build", type=int)
    ap.add_argument("--json")
    args = ap.parse_args()
    tasks = _tasks(args)
    rows = []
    per_task: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for policy in POLICIES:
        scores, resolved = [], 0
        for task in tasks:
            applies, program = program_for(policy, task)
            if not applies:
                continue
            obs = play(task, program)
            scores.append(obs.final_score)
            resolved += bool(obs.resolved)
            per_task.setdefault(task.name, {})[policy] = obs.final_score
        rows.append({"policy": policy, "tasks": len(scores),
                     "mean_score": round(statistics.fmean(scores), 3) if scores else None,
                     "max_score": max(scores) if scores else None,
                     "scoring_ge_0.5": sum(s >= 0.5 for s in scores), "resolved": resolved})
    emit("reward", rows, {"source": args.pack or (f"build:{args.build}" if args.build else "builtin"),
                          "seconds": round(time.perf_counter() - started, 1), "per_task": per_task}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
