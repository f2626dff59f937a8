"""Probe programs: what a reward-hacking or half-finished policy would submit, built from a task.

The validator runs :func:`hardcode_program` to prove that a task's hidden tests catch a
policy that special-cases the visible tests, and the reward-integrity tests and benchmark run
every probe against the environment's score. Each probe uses only what an agent can know
(the buggy program and the visible tests with their expected values), except
:func:`partial_fix_program`, which borrows the reference to stand for an agent that fixed
some failing inputs but not all.

A probe is the buggy program followed by a wrapper that rebinds the entry point:

* **hard-coder** (:func:`hardcode_program`): the inputs of visible tests whose call is exactly
  ``entry(args)`` return that test's expected value; every other input runs the buggy code;
* **partial fix** (:func:`partial_fix_program`): the inputs of the chosen tests run the
  reference (renamed so both programs coexist); every other input runs the buggy code.

Inputs are matched by value (``==`` on the argument tuple and keyword dict), with the table
built when the program loads, by evaluating each test's own ``setup`` and argument text, as an
agent copying the visible calls would. Tasks whose entry point is not a function (a class)
get no probe: the builders return ``None``.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from tracefix_rl.core import safe_ast
from tracefix_rl.core.task import Task, entry_call

__all__ = ["hardcode_program", "partial_fix_program", "probe_supported"]

_REF_SUFFIX = "__tfp_reference"

_WRAPPER = '''

import copy as _tfp_copy


def _tfp_inputs(setup, args_src):
    namespace = dict(globals())
    if setup:
        exec(setup, namespace)
    return eval(args_src, namespace)


_tfp_table = []
for _tfp_setup, _tfp_args, _tfp_value in {entries!r}:
    try:
        _tfp_table.append((_tfp_inputs(_tfp_setup, _tfp_args), _tfp_value))
    except Exception:
        pass
_tfp_original = {entry}


def {entry}(*args, **kwargs):
    for (_tfp_a, _tfp_k), _tfp_v in _tfp_table:
        try:
            hit = _tfp_a == args and _tfp_k == kwargs
        except Exception:
            hit = False
        if hit:
            return {on_hit}
    return _tfp_original(*args, **kwargs)
'''


def probe_supported(task: Task) -> bool:
    """Whether the task's entry point is a top-level function of both programs (probes exist)."""
    for source in (task.buggy, task.reference):
        try:
            tree = safe_ast.parse(source)
        except SyntaxError:
            return False
        if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == task.entry_point
                   for n in tree.body):
            return False
    return True


def hardcode_program(task: Task) -> str | None:
    """The buggy program, wrapped so the visible tests' inputs return their expected values.

    Only visible tests whose expression is exactly one call of the entry point and that expect
    a value are hard-coded (nothing else can be, without knowing the fix). ``None`` when the
    task has no function entry point or no such visible test.
    """
    if not probe_supported(task):
        return None
    entries = []
    for test in task.tests:
        found = entry_call(test, task.entry_point)
        if found is None or not found[1] or test.expected is None:
            continue
        entries.append((test.setup, found[0], safe_ast.literal_eval(test.expected)))
    if not entries:
        return None
    return task.buggy.rstrip("\n") + "\n" + _WRAPPER.format(
        entries=entries, entry=task.entry_point, on_hit="_tfp_copy.deepcopy(_tfp_v)")


def partial_fix_program(task: Task, fixed: Collection[str]) -> str | None:
    """The buggy program, wrapped so the inputs of the tests named in ``fixed`` run the reference.

    Stands for an agent that repaired the behaviour on some inputs only. ``None`` when the task
    has no function entry point or none of ``fixed`` calls it.
    """
    if not probe_supported(task):
        return None
    by_name = {t.name: t for t in task.all_tests}
    entries = []
    for name in fixed:
        found = entry_call(by_name[name], task.entry_point)
        if found is not None:
            entries.append((by_name[name].setup, found[0], None))
    if not entries:
        return None
    return (task.buggy.rstrip("\n") + "\n\n" + _renamed_reference(task.reference) + _WRAPPER.format(
        entries=entries, entry=task.entry_point, on_hit=f"{task.entry_point}{_REF_SUFFIX}(*args, **kwargs)"))


class _Rename(ast.NodeTransformer):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def _new(self, name: str) -> str:
        return name + _REF_SUFFIX if name in self.names else name

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._new(node.id)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [self._new(n) for n in node.names]
        return node


def _renamed_reference(reference: str) -> str:
    """The reference with every top-level function, class and variable renamed apart."""
    tree = safe_ast.parse(reference)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return ast.unparse(_Rename(names).visit(tree)) + "\n"
