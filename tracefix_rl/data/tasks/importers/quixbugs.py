"""Import a QuixBugs checkout (its Python half) as tasks.

Layout read (``SOURCE`` is the repository root)::

    python_programs/NAME.py           buggy program (one bug on one line)
    correct_python_programs/NAME.py   reference
    json_testcases/NAME.json          one JSON [args, expected] per line (args may be a bare value)
    python_testcases/test_NAME.py     pytest tests, for programs without JSON cases
    python_programs/node.py (etc.)    helper classes used by graph programs' tests

* JSON cases become value tests ``NAME(*args)`` (wrapped in ``list(...)`` when the reference is
  a generator); the first third (1 to 3) are visible, the rest hidden.
* pytest-only programs (the graph ones) get the helper modules they import inlined in front of
  the program, and each ``def test_*()`` becomes a test ``setup = <the function>``,
  ``call = "test_x()"``, ``expected = "None"``; the first half are visible.
* Programs that loop forever when buggy are kept: the sandbox limits end each test.

Skipped with a reason: a program with no correct version, no (or malformed) test cases, a
reference that fails its own tests, a buggy program that passes all of them.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

from tracefix_rl.core import safe_ast
from tracefix_rl.core.task import TestSpec
from tracefix_rl.data.tasks.importers._common import ImportReport, finish_task

__all__ = ["import_quixbugs"]

_HELPERS = {"node"}


def _is_generator(source: str, name: str) -> bool:
    for node in ast.walk(safe_ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node))
    return False


def _describe(source: str, name: str) -> str:
    tree = safe_ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name and ast.get_docstring(node):
            return ast.get_docstring(node) or ""
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value.strip()
    return f"{name}: make the program pass its tests."


def _json_tests(path: Path, name: str, generator: bool) -> tuple[list[TestSpec], str]:
    tests: list[TestSpec] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            return [], f"malformed test case (line {n}): {exc.msg}"
        if not isinstance(case, list) or len(case) != 2:
            return [], f"malformed test case (line {n}): expected [args, expected]"
        args, expected = case
        if not isinstance(args, list):
            args = [args]
        call = f"{name}({', '.join(repr(a) for a in args)})"
        if generator:
            call = f"list({call})"
        approx = isinstance(expected, float) or (isinstance(expected, list) and any(isinstance(v, float) for v in expected))
        tests.append(TestSpec(name=f"test_case_{n}", call=call, expected=repr(expected), approx=approx))
    return tests, ""


def _only_imports(node: ast.AST) -> bool:
    if not isinstance(node, ast.If | ast.Try):
        return False
    bodies = [node.body, node.orelse] + ([h.body for h in node.handlers] if isinstance(node, ast.Try) else [])
    stmts = [s for b in bodies for s in b]
    return bool(stmts) and all(isinstance(s, ast.Import | ast.ImportFrom | ast.Pass) or _only_imports(s)
                               for s in stmts)


def _pytest_tests(path: Path, name: str) -> tuple[list[TestSpec], set[str], str]:
    try:
        tree = safe_ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        return [], set(), f"test file does not parse: {exc.msg}"
    helpers: set[str] = set()
    shared: list[str] = []
    tests: list[TestSpec] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[-1]
            if module in _HELPERS:
                helpers.add(module)
            continue  # the program and helpers live in the program's namespace
        if isinstance(node, ast.Import) or _only_imports(node):
            continue  # e.g. ``if pytest.use_correct: from correct_python_programs.x import x``
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            node.decorator_list = []
            tests.append(TestSpec(name=node.name, call=f"{node.name}()", expected="None",
                                  setup="\n".join(shared + [ast.unparse(node)])))
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            shared.append(ast.unparse(node))
    if not tests:
        return [], helpers, "the test file defines no test functions"
    return tests, helpers, ""


def _program(root: Path, name: str, helpers: set[str], folder: str) -> str:
    parts = []
    for helper in sorted(helpers):
        file = root / folder / f"{helper}.py"
        if not file.exists():
            file = root / "python_programs" / f"{helper}.py"
        if file.exists():
            parts.append(file.read_text(encoding="utf-8").strip("\n"))
    parts.append((root / folder / f"{name}.py").read_text(encoding="utf-8").strip("\n"))
    return "\n\n\n".join(parts) + "\n"


def _one(root: Path, name: str, report: ImportReport) -> None:
    correct = root / "correct_python_programs" / f"{name}.py"
    if not correct.exists():
        report.skip(name, "no correct_python_programs version")
        return
    reference_src = correct.read_text(encoding="utf-8")
    try:
        generator = _is_generator(reference_src, name)
    except SyntaxError as exc:
        report.skip(name, f"the reference does not parse: {exc.msg}")
        return
    json_file = root / "json_testcases" / f"{name}.json"
    py_file = root / "python_testcases" / f"test_{name}.py"
    helpers: set[str] = set()
    if json_file.exists():
        tests, problem = _json_tests(json_file, name, generator)
        share = min(3, max(1, math.ceil(len(tests) / 3)))
    elif py_file.exists():
        tests, helpers, problem = _pytest_tests(py_file, name)
        share = max(1, len(tests) // 2)
    else:
        report.skip(name, "no test cases (json_testcases or python_testcases)")
        return
    if problem:
        report.skip(name, problem)
        return
    if len(tests) < 2:
        report.skip(name, "needs at least two test cases (one visible, one hidden)")
        return
    reference = _program(root, name, helpers, "correct_python_programs")
    buggy = _program(root, name, helpers, "python_programs")
    task, reason = finish_task(
        name=f"quixbugs_{name}", entry_point=name, description=_describe(reference_src, name), reference=reference,
        buggy=buggy, tests=tests[:share], hidden=tests[share:], bug_type="quixbugs",
        provenance={"source": "quixbugs", "program": name, "tests_from": "json" if json_file.exists() else "pytest"})
    if task is None:
        report.skip(name, reason)
    else:
        report.tasks.append(task)


def import_quixbugs(source: str | Path) -> ImportReport:
    """Import every program of a QuixBugs checkout at ``source``; see the module docstring."""
    root = Path(source)
    report = ImportReport(source=str(root), format="quixbugs")
    programs = root / "python_programs"
    if not programs.is_dir():
        report.skip(str(root), "no python_programs directory")
        return report
    for file in sorted(programs.glob("*.py")):
        name = file.stem
        if name in _HELPERS or name.startswith("test_") or name == "__init__":
            continue
        try:
            _one(root, name, report)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            report.skip(name, f"unreadable: {exc}")
    return report


