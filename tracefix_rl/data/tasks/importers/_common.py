"""Shared machinery of the importers: turning benchmark checks into tests, and validation.

**How ``check(candidate)`` functions become tests.** Benchmarks in the HumanEval family test a
solution with ``def check(candidate): assert ...``. Each top-level ``assert`` that mentions the
candidate becomes its own :class:`TestSpec` (better per-test feedback than one opaque
check), with the candidate's name replaced by the entry point:

* ``assert f(x) == <literal>`` becomes ``call = "f(x)"``, ``expected = "<literal>"`` (numbers
  compared with ``approx`` when the literal contains a float);
* any other ``assert E`` becomes ``call = "E"``, ``expected = "True"`` (exactly the assert's
  truth test, wrapped in ``bool``);
* if the reference fails a value-style test only because the environment's comparison is
  type-strict (``1 == 1.0`` or ``True == 1`` in Python), that test is turned into the
  ``bool`` style and re-checked;
* module-level statements of the test code (imports, helper functions, ``METADATA``) and the
  check's leading assignments and imports go into every test's ``setup``;
* a check that is not a plain sequence of asserts (loops, asserts depending on variables set
  in between) is kept whole: ``setup`` = the test code, ``call = "check(f)"``,
  ``expected = "None"``.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import math
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.core import safe_ast
from tracefix_rl.core.task import Task, TestSpec, input_key
from tracefix_rl.data.tasks._difficulty import rate, simple_repair_finds
from tracefix_rl.data.tasks._validate import (
    HINT_PATTERN,
    check_reference,
    has_hint,
    hidden_catches_hardcoding,
    probe_catches_hardcoding,
    validate_candidate,
)

__all__ = ["ImportReport", "check_tests", "changed_lines", "doctest_tests", "finish_task", "fit_tests",
           "move_to_hidden", "strip_hint_comments"]


@dataclass
class ImportReport:
    """The tasks (or reference programs) imported, and every item skipped with its reason."""

    tasks: list[Any] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""
    format: str = ""

    def skip(self, item: str, reason: str) -> None:
        """Record that ``item`` was not imported, and why."""
        self.skipped.append((item, reason))

    def summary(self) -> dict[str, Any]:
        """Plain data for the pack header."""
        return {"format": self.format, "source": self.source, "imported": len(self.tasks),
                "skipped": [list(s) for s in self.skipped]}


def strip_hint_comments(source: str) -> str:
    """Remove comments that contain a hint word (``BUG``, ``FIXME``, ``TODO``, ``XXX``).

    Code and strings are untouched; a line that held only such a comment disappears.
    """
    if not has_hint(source):
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    lines = source.splitlines(keepends=True)
    drop: dict[int, int] = {}
    for tok in tokens:
        if tok.type == tokenize.COMMENT and HINT_PATTERN.search(tok.string):
            drop[tok.start[0]] = tok.start[1]
    out = []
    for i, line in enumerate(lines, 1):
        if i in drop:
            kept = line[: drop[i]].rstrip()
            if kept:
                out.append(kept + "\n")
            continue
        out.append(line)
    return "".join(out)


def changed_lines(reference: str, buggy: str) -> list[int]:
    """Lines of ``buggy`` (1-based) that differ from ``reference``; an insertion point for
    pure deletions."""
    a, b = reference.splitlines(), buggy.splitlines()
    out: list[int] = []
    for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        out.extend(range(j1 + 1, j2 + 1) if j2 > j1 else [max(1, min(j1 + 1, len(b)))])
    return sorted(set(out))


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.old:
            return ast.copy_location(ast.Name(self.new, node.ctx), node)
        return node


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


def _value_test(name: str, call: str, value: Any, setup: str) -> TestSpec | None:
    text = repr(value)
    if type(value) is float and not math.isfinite(value):
        return None
    try:
        if safe_ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError):
        return None
    return TestSpec(name=name, call=call, expected=text, setup=setup, approx=_has_float(value))


def check_tests(test_source: str, entry_point: str, prefix: str) -> list[TestSpec]:
    """Tests from benchmark test code defining ``check(candidate)`` (see the module docstring).

    Raises ValueError when the code does not parse or defines no ``check``.
    """
    tree = safe_ast.parse(test_source)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None or not check.args.args:
        raise ValueError("the test code defines no check(candidate) function")
    param = check.args.args[0].arg
    preamble = [n for n in tree.body if n is not check and not (
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
        and n.value.func.id == "check")]
    body = list(check.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    lead: list[ast.stmt] = []
    while body and isinstance(body[0], ast.Assign | ast.Import | ast.ImportFrom | ast.FunctionDef) \
            and not isinstance(body[0], ast.Assert):
        lead.append(body.pop(0))
    rename = _Rename(param, entry_point)
    asserts = [s for s in body if isinstance(s, ast.Assert) and _mentions(s.test, param)]
    plain = all(isinstance(s, ast.Assert) or isinstance(s, ast.Pass) for s in body) and asserts
    setup_nodes = [rename.visit(safe_ast.parse(ast.unparse(n)).body[0]) for n in preamble + lead]
    setup = "\n".join(ast.unparse(n) for n in setup_nodes if not _is_metadata(n))
    if not plain:
        whole = "\n".join(ast.unparse(n) for n in preamble if not _is_metadata(n))
        whole = (whole + "\n" if whole else "") + ast.unparse(check)
        return [TestSpec(name=f"{prefix}_check", call=f"check({entry_point})", expected="None", setup=whole)]
    tests: list[TestSpec] = []
    for i, stmt in enumerate(asserts, 1):
        expr = rename.visit(safe_ast.parse(ast.unparse(stmt.test), mode="eval").body)
        name = f"{prefix}_{i}"
        spec = None
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq):
            ok, value = _literal(expr.comparators[0])
            if ok and _mentions(expr.left, entry_point):
                spec = _value_test(name, ast.unparse(expr.left), value, setup)
        tests.append(spec or TestSpec(name=name, call=f"bool({ast.unparse(expr)})", expected="True", setup=setup))
    return tests


def _is_metadata(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "METADATA" for t in node.targets)


_DOCTEST = re.compile(r"^\s*>>> (?P<call>.+)\n\s*(?P<out>[^\s>].*)$", re.MULTILINE)


def doctest_tests(prompt: str, entry_point: str, prefix: str) -> list[TestSpec]:
    """Value tests from ``>>> call`` / result pairs in a docstring (only literal results)."""
    tests: list[TestSpec] = []
    seen: set[str] = set()
    for m in _DOCTEST.finditer(prompt):
        call, out = m.group("call").strip(), m.group("out").strip()
        if entry_point not in call or call in seen:
            continue
        try:
            call = ast.unparse(safe_ast.parse(call, mode="eval").body)  # drops trailing comments
            value = safe_ast.literal_eval(out)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        spec = _value_test(f"{prefix}_{len(tests) + 1}", call, value, "")
        if spec is not None:
            seen.add(call)
            tests.append(spec)
    return tests


def fit_tests(reference: str, tests: Sequence[TestSpec], hidden: Sequence[TestSpec], *,
              entry_point: str | None = None) -> tuple[list[TestSpec], list[TestSpec], str]:
    """Check ``reference`` against the tests, loosening only what Python's ``==`` would accept.

    A value test the reference fails only through the type-strict comparison is loosened in
    two steps: first to a numeric comparison in the environment (``approx``: ``2 == 2.0``),
    which keeps the verdict outside the sandbox; what still fails becomes a ``bool`` test
    (the comparison then runs in the sandbox, as the benchmark's assert did). Returns the
    tests and ``""``, or a reason on failure.
    """
    verdict = check_reference(reference, tests, hidden, entry_point=entry_point)
    if verdict.ok:
        return list(tests), list(hidden), ""
    if verdict.reason != "fails_own_tests":
        return list(tests), list(hidden), f"{verdict.reason}: {verdict.detail}"
    first_detail = verdict.detail
    n = len(tests)
    specs = list(tests) + list(hidden)
    for loosen in (_as_numeric, _as_bool):
        statuses = verdict.visible + verdict.hidden
        specs = [loosen(spec) if status == "failed" else spec for spec, status in zip(specs, statuses, strict=True)]
        verdict = check_reference(reference, specs[:n], specs[n:], entry_point=entry_point)
        if verdict.ok:
            return specs[:n], specs[n:], ""
    return specs[:n], specs[n:], f"the reference fails its own tests: {first_detail}"


def _as_numeric(spec: TestSpec) -> TestSpec:
    if spec.expected is None or spec.approx or spec.call.startswith("bool("):
        return spec
    try:
        numeric = _has_number(safe_ast.literal_eval(spec.expected))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        numeric = False
    return dataclasses.replace(spec, approx=True) if numeric else spec


def _as_bool(spec: TestSpec) -> TestSpec:
    if spec.expected is None or spec.call.startswith("bool("):
        return spec
    return TestSpec(name=spec.name, call=f"bool(({spec.call}) == {spec.expected})", expected="True", setup=spec.setup)


def _has_number(value: Any) -> bool:
    if type(value) in (int, float):
        return True
    if isinstance(value, list | tuple):
        return bool(value) and all(_has_number(v) for v in value)
    return False


def finish_task(*, name: str, entry_point: str, description: str, reference: str, buggy: str,
                tests: Sequence[TestSpec], hidden: Sequence[TestSpec], bug_type: str, provenance: dict[str, Any],
                bug_description: str = "") -> tuple[Task | None, str]:
    """Validate an imported (reference, buggy) pair and rate it; ``(task, "")`` or ``(None, reason)``.

    The reference must pass every test (after :func:`fit_tests`); the buggy program must
    fail at least one, and is allowed to hang (the sandbox limits end it). Its hidden tests
    must catch a hard-coder (a failing hidden test on an input no visible test uses); when
    they do not but several visible tests fail, :func:`move_to_hidden` repairs the split by
    moving failing visible tests to the hidden set (one always stays visible), and the
    provenance says so (``repaired_split``). The tests get their FAIL_TO_PASS /
    PASS_TO_PASS roles from the validation run.
    """
    buggy = strip_hint_comments(buggy)
    reference = strip_hint_comments(reference)
    tests, hidden, problem = fit_tests(reference, tests, hidden, entry_point=entry_point)
    if problem:
        return None, problem
    verdict = validate_candidate(reference, buggy, tests, hidden, allow_hang=True, require_visible_failure=False,
                                 entry_point=entry_point)
    statuses = verdict.visible + verdict.hidden
    status_of = {t.name: st for t, st in zip(list(tests) + list(hidden), statuses, strict=True)}
    moved: list[str] = []
    if verdict.reason in ("hidden_misses_hardcoding", "passes_hidden"):
        failing_names = verdict.failing_tests(tests, hidden)
        tests, hidden, moved = move_to_hidden(tests, hidden, failing_names, entry_point)
        if moved and not probe_catches_hardcoding(reference, buggy, tests, hidden, failing_names,
                                                  entry_point=entry_point):
            moved = []
        if moved:
            verdict.visible = [status_of[t.name] for t in tests]
            verdict.hidden = [status_of[t.name] for t in hidden]
            verdict.ok, verdict.reason = True, "ok"
    if not verdict.ok:
        reasons = {"passes_all": "the buggy program passes every test", "hint": "the buggy program contains a hint word",
                   "same_as_reference": "the buggy program equals the reference", "syntax": "the buggy program does not parse",
                   "hidden_misses_hardcoding": "the hidden tests cannot tell a program that special-cases the visible inputs from a fix",
                   "passes_hidden": "the buggy program passes every hidden test"}
        return None, reasons.get(verdict.reason, verdict.reason)
    lines = changed_lines(reference, buggy)
    failing = [ln for ln, st in zip(verdict.lines, statuses, strict=False) if st != "passed"]
    repair = simple_repair_finds(buggy, reference, lines)
    rating = rate(operators=[bug_type or "imported"], bug_lines=lines, fail_fraction=verdict.fail_fraction,
                  failing_lines=failing, simple_repair=repair)
    prov = dict(provenance)
    prov.update({"generator": "import", "bug_lines": lines, "rating": rating.to_dict(),
                 "hangs": "timeout" in statuses})
    if moved:
        prov["repaired_split"] = {"moved_to_hidden": moved}
    task = Task(name=name, difficulty=rating.tier, entry_point=entry_point,  # type: ignore[arg-type]
                description=description.strip(), reference=reference.strip("\n") + "\n",
                buggy=buggy.strip("\n") + "\n", tests=tuple(tests), hidden_tests=tuple(hidden),
                bug_type=bug_type, bug_description=bug_description, provenance=prov)
    return task.with_roles(verdict.failing_tests(tests, hidden)), ""


def move_to_hidden(tests: Sequence[TestSpec], hidden: Sequence[TestSpec], failing: set[str],
                   entry_point: str) -> tuple[list[TestSpec], list[TestSpec], list[str]]:
    """Move failing visible tests to the hidden set until a hidden test catches a hard-coder.

    Tests move from the end of the visible list, one at a time, and only tests whose input
    no remaining visible test uses; at least one failing visible test always stays. Returns
    the new lists and the names moved (empty, with the lists unchanged, when no move helps).
    """
    visible, secret = list(tests), list(hidden)
    moved: list[str] = []
    for test in reversed(list(tests)):
        if hidden_catches_hardcoding(visible, secret, failing, entry_point):
            return visible, secret, moved
        if test.name not in failing or sum(t.name in failing for t in visible) < 2:
            continue
        rest = [t for t in visible if t is not test]
        if input_key(test, entry_point) in {input_key(t, entry_point) for t in rest}:
            continue
        visible, secret = rest, [*secret, test]
        moved.append(test.name)
    if hidden_catches_hardcoding(visible, secret, failing, entry_point):
        return visible, secret, moved
    return list(tests), list(hidden), []
