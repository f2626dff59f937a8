"""AST mutation engine: seeded, documented operators that plant realistic bugs.

A *site* is one place an operator can act (a node of the reference's AST plus a choice, such
as ``+1`` or ``-1`` for a constant). :func:`find_sites` lists every site of a program in a
deterministic order; :func:`apply_mutations` applies one or more non-overlapping sites and
returns a :class:`Mutant` whose source is the reference text with only the mutated spans
rewritten (comments, blank lines and formatting elsewhere are preserved), plus provenance:
operator, line in the buggy program, line in the reference, original and mutated line text.

Operators (``OPERATORS``; every one is documented on its class):

========================  ===============================================================
``off_by_one_const``      an integer constant ``c`` becomes ``c + 1`` or ``c - 1``
``off_by_one_range``      ``range(...)``'s stop (or start) argument is shifted by one
``arith_swap``            ``+``/``-``, ``*``/``//``, ``/``/``//``, ``%``/``//``, ``**``/``*``
``compare_swap``          ``<``/``<=``, ``>``/``>=``, ``<``/``>``, ``==``/``!=``, ``in``/``not in``
``condition_flip``        an ``if``/``while``/ternary condition is negated
``bool_op_swap``          ``and`` becomes ``or`` and vice versa
``wrong_variable``        a variable read is replaced by another local of the same function
``swap_arguments``        two adjacent positional call arguments (or operands of ``-``, ``/``,
                          ``//``, ``%``, ``**``) trade places
``remove_statement``      an expression statement or assignment is deleted
``missing_return``        a ``return <value>`` loses its value (the function returns ``None``)
``missing_accumulator``   an augmented assignment inside a loop (``total += x``) is deleted
``wrong_slice``           a slice bound is shifted by one or dropped, or a step's sign flips
``wrong_initial_value``   an initialising assignment gets a different starting constant
``wrong_builtin``         ``min``/``max``, ``any``/``all``, ``append``/``extend``, ``lower``/
                          ``upper`` and similar look-alike calls are exchanged
``broken_base_case``      a recursive function's base case is tightened, loosened, returns a
                          different constant, or is removed
``invert_if``             an ``if``'s body and ``else`` branch are exchanged
========================  ===============================================================

Everything is deterministic: the same program yields the same sites in the same order, and
:func:`sample_mutants` draws from them with ``random.Random(seed)``.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.core import _ast

__all__ = [
    "OPERATORS",
    "Mutant",
    "Mutation",
    "Site",
    "apply_mutations",
    "find_sites",
    "normalized",
    "operator_names",
    "sample_mutants",
]


@functools.lru_cache(maxsize=8192)
def normalized(source: str) -> str | None:
    """The AST dump of ``source`` without positions (``None`` if it does not parse).

    Two programs with the same normalised form differ only in formatting and comments.
    """
    try:
        return ast.dump(_ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Site:
    """One place an operator can act: node ``index`` in ``ast.walk`` order, plus a ``choice``."""

    operator: str
    index: int
    choice: int
    line: int
    end_line: int
    note: str


@dataclass(frozen=True)
class Mutation:
    """Provenance of one applied site (stored with the task, never shown to the agent)."""

    operator: str
    note: str
    line: int
    reference_line: int
    original: str
    mutated: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the task's ``provenance``."""
        return {"operator": self.operator, "note": self.note, "line": self.line,
                "reference_line": self.reference_line, "original": self.original,
                "mutated": self.mutated}


@dataclass(frozen=True)
class Mutant:
    """A mutated program and the mutations that made it."""

    source: str
    mutations: tuple[Mutation, ...]
    key: str = field(default="", compare=False)

    @property
    def operators(self) -> tuple[str, ...]:
        """Operator names, in application order."""
        return tuple(m.operator for m in self.mutations)

    @property
    def lines(self) -> tuple[int, ...]:
        """Lines of the buggy program touched by a mutation."""
        return tuple(m.line for m in self.mutations)


# --------------------------------------------------------------------------------------------
# Context shared by the operators


class _Ctx:
    """A parsed program: nodes in walk order, parents, and the enclosing function of each node."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.nodes: list[ast.AST] = list(ast.walk(tree))
        self.parent: dict[int, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
        self.func: dict[int, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}
        self._assign_funcs(tree, None)
        self.loop_depth: dict[int, int] = {}
        self._assign_loops(tree, 0)
        self._locals: dict[int, list[str]] = {}
        self.pass_for: set[int] = set()
        for node in self.nodes:  # computed before any mutation changes the names
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.locals_of(node)

    def _assign_funcs(self, node: ast.AST, func: Any) -> None:
        self.func[id(node)] = func
        inner = node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else func
        for child in ast.iter_child_nodes(node):
            self._assign_funcs(child, inner)

    def _assign_loops(self, node: ast.AST, depth: int) -> None:
        self.loop_depth[id(node)] = depth
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            depth = 0
        inner = depth + 1 if isinstance(node, ast.For | ast.While) else depth
        for child in ast.iter_child_nodes(node):
            # a for-loop's iterable is evaluated once, outside the loop body
            self._assign_loops(child, depth if isinstance(node, ast.For) and child is node.iter else inner)

    def locals_of(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
        """Parameters and assigned names of ``func`` (sorted; not nested functions' names)."""
        key = id(func)
        if key not in self._locals:
            names: set[str] = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
            for extra in (func.args.vararg, func.args.kwarg):
                if extra is not None:
                    names.add(extra.arg)
            for node in ast.walk(func):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and self.func.get(id(node)) is func:
                    names.add(node.id)
            names.discard("self")
            self._locals[key] = sorted(names)
        return self._locals[key]


def _pos(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "end_lineno", 0) or getattr(node, "lineno", 0)


def _replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
    raise ValueError("node not found in its parent")


def _const(value: int | float | str | bool | None) -> ast.expr:
    """A constant node that round-trips through source: negative numbers are ``-(abs)``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _int_const(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _is_elif(ctx: _Ctx, node: ast.AST) -> bool:
    parent = ctx.parent.get(id(node))
    return isinstance(parent, ast.If) and len(parent.orelse) == 1 and parent.orelse[0] is node


def _is_docstring(ctx: _Ctx, node: ast.AST) -> bool:
    parent = ctx.parent.get(id(node))
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Constant):
        return False
    body = getattr(parent, "body", None)
    return isinstance(body, list) and bool(body) and body[0] is node and isinstance(node.value.value, str)


# --------------------------------------------------------------------------------------------
# Operators. Each has ``sites(ctx, node, index)`` yielding (choice, note) pairs and
# ``apply(ctx, node, choice)`` which edits the tree in place and returns the changed node
# (or ``None`` when a statement was removed).


class Operator:
    """Base class: an operator names itself and finds and applies its sites."""

    name = ""
    node_types: tuple[type, ...] = ()

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        """``(choice, note)`` for every way this operator can act on ``node``."""
        raise NotImplementedError

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        """Mutate the tree in place at ``node`` using ``choice``."""
        raise NotImplementedError


class OffByOneConst(Operator):
    """An integer constant ``c`` becomes ``c + 1`` (choice 0) or ``c - 1`` (choice 1).

    Constants inside ``range(...)`` calls, slices and bases of recursion are left to the more
    specific operators; negative literals (``-1``) are treated as the constant ``-1``.
    """

    name = "off_by_one_const"
    node_types = (ast.Constant,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if not _int_const(node) or isinstance(ctx.parent.get(id(node)), ast.Slice):
            return
        value = node.value  # type: ignore[attr-defined]
        yield 0, f"{value} -> {value + 1}"
        yield 1, f"{value} -> {value - 1}"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        value = node.value + (1 if choice == 0 else -1)  # type: ignore[attr-defined]
        parent = ctx.parent[id(node)]
        if value >= 0 or (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)):
            node.value = value  # type: ignore[attr-defined]
        else:
            _replace_child(parent, node, _const(value))


def _shift(expr: ast.expr, delta: int) -> ast.expr:
    if _int_const(expr):
        return _const(expr.value + delta)  # type: ignore[attr-defined]
    if isinstance(expr, ast.BinOp) and _int_const(expr.right) and isinstance(expr.op, ast.Add | ast.Sub):
        sign = 1 if isinstance(expr.op, ast.Add) else -1
        value = expr.right.value * sign + delta  # type: ignore[attr-defined]
        if value == 0:
            return expr.left
        return ast.BinOp(expr.left, ast.Add() if value > 0 else ast.Sub(), ast.Constant(abs(value)))
    return ast.BinOp(expr, ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


class OffByOneRange(Operator):
    """``range(...)``: the stop argument gains ``+ 1`` / ``- 1`` (choices 0, 1); with two or
    more arguments the start argument can also shift (choices 2, 3)."""

    name = "off_by_one_range"
    node_types = (ast.Call,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
                and 1 <= len(node.args) <= 3 and not node.keywords
                and not any(isinstance(a, ast.Starred) for a in node.args)):
            return
        yield 0, "range stop + 1"
        yield 1, "range stop - 1"
        if len(node.args) >= 2:
            yield 2, "range start + 1"
            yield 3, "range start - 1"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Call)
        i = (0 if len(node.args) == 1 else 1) if choice < 2 else 0
        node.args[i] = _shift(node.args[i], 1 if choice % 2 == 0 else -1)


_ARITH: dict[type, list[type]] = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.FloorDiv, ast.Add], ast.FloorDiv: [ast.Div, ast.Mult],
    ast.Div: [ast.FloorDiv, ast.Mult], ast.Mod: [ast.FloorDiv], ast.Pow: [ast.Mult],
}
_SYMBOL: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "/", ast.Mod: "%",
           ast.Pow: "**", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
           ast.And: "and", ast.Or: "or"}


class ArithSwap(Operator):
    """An arithmetic operator (also in ``x op= y``) is replaced by a look-alike:
    ``+``↔``-``, ``*``→``//``/``+``, ``//``→``/``/``*``, ``/``→``//``/``*``, ``%``→``//``,
    ``**``→``*``. String concatenation with a string literal is skipped (it would only crash)."""

    name = "arith_swap"
    node_types = (ast.BinOp, ast.AugAssign)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        op = type(node.op)  # type: ignore[attr-defined]
        if isinstance(node, ast.BinOp) and any(
                isinstance(s, ast.Constant) and isinstance(s.value, str) for s in (node.left, node.right)):
            return
        for i, new in enumerate(_ARITH.get(op, [])):
            yield i, f"{_SYMBOL[op]} -> {_SYMBOL[new]}"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        node.op = _ARITH[type(node.op)][choice]()  # type: ignore[attr-defined]


_COMPARE: dict[type, list[type]] = {
    ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot], ast.IsNot: [ast.Is],
}


class CompareSwap(Operator):
    """One comparison operator changes: strictness (``<``↔``<=``), direction (``<``↔``>``),
    or polarity (``==``↔``!=``, ``in``↔``not in``, ``is``↔``is not``). Choice ``2*i + j`` is
    the j-th replacement of the i-th operator of a chained comparison."""

    name = "compare_swap"
    node_types = (ast.Compare,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Compare)
        for i, op in enumerate(node.ops):
            for j, new in enumerate(_COMPARE.get(type(op), [])):
                yield 2 * i + j, f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Compare)
        i, j = divmod(choice, 2)
        node.ops[i] = _COMPARE[type(node.ops[i])][j]()


def _negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(ast.Not(), test)


class ConditionFlip(Operator):
    """The condition of an ``if``, ``elif``, ``while`` or conditional expression is negated
    (an existing ``not`` is removed instead of doubled). ``while True`` is left alone."""

    name = "condition_flip"
    node_types = (ast.If, ast.While, ast.IfExp)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        test = node.test  # type: ignore[attr-defined]
        if isinstance(test, ast.Constant):
            return
        yield 0, "condition negated"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        node.test = _negate(node.test)  # type: ignore[attr-defined]


class BoolOpSwap(Operator):
    """``a and b`` becomes ``a or b`` and vice versa."""

    name = "bool_op_swap"
    node_types = (ast.BoolOp,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        yield 0, "and -> or" if isinstance(node.op, ast.And) else "or -> and"  # type: ignore[attr-defined]

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]


_BUILTIN_NAMES = frozenset(dir(builtins))


class WrongVariable(Operator):
    """A read of a local variable is replaced by another parameter or local of the same
    function (choice = index among the alternatives, at most two, alphabetical).
    Call targets and attribute bases of method calls are left alone."""

    name = "wrong_variable"
    node_types = (ast.Name,)

    def _alternatives(self, ctx: _Ctx, node: ast.Name) -> list[str]:
        func = ctx.func.get(id(node))
        if func is None or not isinstance(node.ctx, ast.Load) or node.id in _BUILTIN_NAMES:
            return []
        parent = ctx.parent.get(id(node))
        if isinstance(parent, ast.Call) and parent.func is node:
            return []
        names = ctx.locals_of(func)
        if node.id not in names:
            return []
        return [n for n in names if n != node.id][:2]

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Name)
        for i, alt in enumerate(self._alternatives(ctx, node)):
            yield i, f"{node.id} -> {alt}"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Name)
        node.id = self._alternatives(ctx, node)[choice]


_NONCOMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


class SwapArguments(Operator):
    """Two adjacent positional arguments of a call trade places (choice = position of the
    first), or the operands of a non-commutative operator (``-``, ``/``, ``//``, ``%``, ``**``)
    are swapped. Calls whose two arguments are textually identical are skipped."""

    name = "swap_arguments"
    node_types = (ast.Call, ast.BinOp)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, _NONCOMMUTATIVE) and ast.dump(node.left) != ast.dump(node.right):
                yield 0, f"operands of {_SYMBOL[type(node.op)]} swapped"
            return
        assert isinstance(node, ast.Call)
        if any(isinstance(a, ast.Starred) for a in node.args):
            return
        for i in range(len(node.args) - 1):
            if ast.dump(node.args[i]) != ast.dump(node.args[i + 1]):
                yield i, f"arguments {i + 1} and {i + 2} swapped"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        if isinstance(node, ast.BinOp):
            node.left, node.right = node.right, node.left
        else:
            args = node.args  # type: ignore[attr-defined]
            args[choice], args[choice + 1] = args[choice + 1], args[choice]


def _remove_stmt(ctx: _Ctx, node: ast.stmt) -> None:
    parent = ctx.parent[id(node)]
    for _name, value in ast.iter_fields(parent):
        if isinstance(value, list) and any(item is node for item in value):
            value[:] = [s for s in value if s is not node]
            if not value:
                value.append(ast.Pass())
                ctx.pass_for.add(id(node))
            return
    raise ValueError("statement not found in its parent")


class RemoveStatement(Operator):
    """An expression statement (typically a call such as ``result.append(x)``) or a plain
    assignment is deleted; a body left empty becomes ``pass``. Docstrings, augmented
    assignments in loops (see ``missing_accumulator``) and module-level statements are skipped."""

    name = "remove_statement"
    node_types = (ast.Expr, ast.Assign, ast.AnnAssign)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if ctx.func.get(id(node)) is None or _is_docstring(ctx, node):
            return
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom):
            return
        yield 0, f"{type(node).__name__.lower()} statement removed"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        _remove_stmt(ctx, node)  # type: ignore[arg-type]


class MissingReturn(Operator):
    """``return <value>`` becomes a bare ``return``: the function returns ``None`` there."""

    name = "missing_return"
    node_types = (ast.Return,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        value = node.value  # type: ignore[attr-defined]
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            yield 0, "return value dropped"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        node.value = None  # type: ignore[attr-defined]


class MissingAccumulator(Operator):
    """An augmented assignment inside a loop (``total += x``, ``count -= 1``) is deleted, so
    the accumulator (or counter) is never updated there."""

    name = "missing_accumulator"
    node_types = (ast.AugAssign,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if ctx.loop_depth.get(id(node), 0) > 0:
            yield 0, "accumulator update removed"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        _remove_stmt(ctx, node)  # type: ignore[arg-type]


class WrongSlice(Operator):
    """A slice goes wrong: lower bound ``+1``/``-1`` (choices 0, 1) or dropped (2); upper
    bound ``+1``/``-1`` (3, 4) or dropped (5); a constant step's sign flips (6)."""

    name = "wrong_slice"
    node_types = (ast.Slice,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Slice)
        for base, bound, label in ((0, node.lower, "lower"), (3, node.upper, "upper")):
            if bound is not None:
                yield base, f"slice {label} bound + 1"
                yield base + 1, f"slice {label} bound - 1"
                yield base + 2, f"slice {label} bound dropped"
        step = node.step
        if step is not None and (_int_const(step) or (isinstance(step, ast.UnaryOp) and _int_const(step.operand))):
            yield 6, "slice step sign flipped"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Slice)
        if choice == 6:
            step = node.step
            if isinstance(step, ast.UnaryOp):
                node.step = step.operand
            else:
                node.step = _const(-step.value)  # type: ignore[union-attr]
            return
        attr = "lower" if choice < 3 else "upper"
        kind = choice % 3
        bound = getattr(node, attr)
        setattr(node, attr, None if kind == 2 else _shift(bound, 1 if kind == 0 else -1))


def _initial_alternatives(value: ast.expr) -> list[tuple[ast.expr, str]]:
    if isinstance(value, ast.Constant):
        v = value.value
        if type(v) is bool:
            return [(ast.Constant(not v), f"{v} -> {not v}")]
        if type(v) is int:
            alts = [1] if v == 0 else [0, v + 1] if v != -1 else [0]
            return [(_const(a), f"{v} -> {a}") for a in alts]
        if type(v) is float:
            return [(_const(v + 1.0), f"{v} -> {v + 1.0}")]
        if v is None:
            return [(ast.Constant(0), "None -> 0")]
        if type(v) is str:
            alt = " " if v == "" else ""
            return [(ast.Constant(alt), f"{v!r} -> {alt!r}")]
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "float" \
            and len(value.args) == 1 and isinstance(value.args[0], ast.Constant) \
            and value.args[0].value in ("inf", "-inf"):
        flipped = "-inf" if value.args[0].value == "inf" else "inf"
        return [(ast.Call(ast.Name("float", ast.Load()), [ast.Constant(flipped)], []),
                 f"float({value.args[0].value!r}) -> float({flipped!r})")]
    if isinstance(value, ast.Subscript) and _int_const(value.slice):
        i = value.slice.value  # type: ignore[attr-defined]
        return [(ast.Constant(0), f"[{i}] -> 0")]
    return []


class WrongInitialValue(Operator):
    """A variable initialised with a constant before any loop (``total = 0``, ``best = None``,
    ``lo = float('inf')``, ``first = xs[0]``, ``found = False``) starts from a different value:
    ``0``→``1``, ``n``→``0``/``n+1``, booleans flip, ``None``→``0``, ``''``↔``' '``,
    ``inf``↔``-inf``, ``xs[0]``→``0``."""

    name = "wrong_initial_value"
    node_types = (ast.Assign,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Assign)
        if ctx.func.get(id(node)) is None or ctx.loop_depth.get(id(node), 0) > 0:
            return
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name | ast.Attribute):
            return
        for i, (_new, note) in enumerate(_initial_alternatives(node.value)):
            yield i, note

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        node.value = _initial_alternatives(node.value)[choice][0]  # type: ignore[attr-defined]


_BUILTIN_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any", "sorted": "reversed",
                  "int": "round"}
_METHOD_SWAPS = {"append": "extend", "extend": "append", "lower": "upper", "upper": "lower",
                 "isupper": "islower", "islower": "isupper", "startswith": "endswith",
                 "endswith": "startswith", "keys": "values", "values": "keys", "lstrip": "rstrip",
                 "rstrip": "lstrip", "isdigit": "isalpha", "isalpha": "isdigit", "find": "rfind",
                 "rfind": "find", "appendleft": "append", "popleft": "pop", "add": "discard",
                 "index": "count", "split": "rsplit", "insert": "__setitem__"}


class WrongBuiltin(Operator):
    """A call is exchanged for a look-alike: builtins ``min``↔``max``, ``any``↔``all``,
    ``sorted``→``reversed``, ``int``→``round``; methods ``append``↔``extend``,
    ``lower``↔``upper``, ``startswith``↔``endswith``, ``keys``↔``values``, ``find``↔``rfind``,
    ``popleft``→``pop``, ``pop()``↔``pop(0)`` and similar."""

    name = "wrong_builtin"
    node_types = (ast.Call,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Call)
        f = node.func
        if isinstance(f, ast.Name) and f.id in _BUILTIN_SWAPS:
            yield 0, f"{f.id} -> {_BUILTIN_SWAPS[f.id]}"
        elif isinstance(f, ast.Attribute) and f.attr == "pop" and len(node.args) <= 1:
            yield 1, "pop() -> pop(0)" if not node.args else "pop(i) -> pop()"
        elif isinstance(f, ast.Attribute) and f.attr in _METHOD_SWAPS and f.attr != "insert":
            yield 0, f".{f.attr} -> .{_METHOD_SWAPS[f.attr]}"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Call)
        f = node.func
        if choice == 1:
            node.args = [] if node.args else [ast.Constant(0)]
        elif isinstance(f, ast.Name):
            f.id = _BUILTIN_SWAPS[f.id]
        else:
            f.attr = _METHOD_SWAPS[f.attr]  # type: ignore[attr-defined]


def _calls_itself(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == func.name) or (
                    isinstance(f, ast.Attribute) and f.attr == func.name
                    and isinstance(f.value, ast.Name) and f.value.id == "self"):
                return True
    return False


class BrokenBaseCase(Operator):
    """In a recursive function, an ``if`` whose body returns (the base case) breaks:
    its comparison loosens/tightens (choice 0), its returned constant changes (1), or the
    whole base case is removed (2)."""

    name = "broken_base_case"
    node_types = (ast.If,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.If)
        func = ctx.func.get(id(node))
        if func is None or not _calls_itself(func) or node.orelse or _is_elif(ctx, node):
            return
        if not node.body or not isinstance(node.body[-1], ast.Return):
            return
        if isinstance(node.test, ast.Compare) and len(node.test.ops) == 1 and type(node.test.ops[0]) in _COMPARE:
            yield 0, "base-case comparison changed"
        ret = node.body[-1].value
        if ret is not None and _initial_alternatives(ret):
            yield 1, "base-case value changed"
        yield 2, "base case removed"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.If)
        if choice == 0:
            cmp = node.test
            cmp.ops[0] = _COMPARE[type(cmp.ops[0])][0]()  # type: ignore[attr-defined]
        elif choice == 1:
            ret = node.body[-1]
            ret.value = _initial_alternatives(ret.value)[0][0]  # type: ignore[attr-defined,arg-type]
        else:
            _remove_stmt(ctx, node)


class InvertIf(Operator):
    """An ``if``/``else`` exchanges its two branches (the condition stays); ``elif`` chains
    are left alone."""

    name = "invert_if"
    node_types = (ast.If,)

    def sites(self, ctx: _Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.If)
        if node.orelse and not (len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)) \
                and not _is_elif(ctx, node):
            yield 0, "if/else branches swapped"

    def apply(self, ctx: _Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.If)
        node.body, node.orelse = node.orelse, node.body


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    OffByOneConst(), OffByOneRange(), ArithSwap(), CompareSwap(), ConditionFlip(), BoolOpSwap(),
    WrongVariable(), SwapArguments(), RemoveStatement(), MissingReturn(), MissingAccumulator(),
    WrongSlice(), WrongInitialValue(), WrongBuiltin(), BrokenBaseCase(), InvertIf(),
)}


def operator_names() -> list[str]:
    """Names of every operator, in documentation order."""
    return list(OPERATORS)


# --------------------------------------------------------------------------------------------
# Finding and applying sites


def find_sites(source: str, operators: list[str] | None = None) -> list[Site]:
    """Every site of every (selected) operator in ``source``, in a deterministic order.

    Nodes of the module's top level that are not inside a function or class (test fixtures,
    constants) are not mutated.
    """
    tree = _ast.parse(source)
    ctx = _Ctx(tree)
    ops = [OPERATORS[n] for n in (operators or OPERATORS)]
    out: list[Site] = []
    for index, node in enumerate(ctx.nodes):
        if ctx.func.get(id(node)) is None:
            continue
        line, end = _pos(node)
        for op in ops:
            if not isinstance(node, op.node_types):
                continue
            for choice, note in op.sites(ctx, node):
                out.append(Site(op.name, index, choice, line, end, note))
    return out


def _stmt_of(ctx: _Ctx, node: ast.AST) -> ast.AST:
    while not isinstance(node, ast.stmt):
        node = ctx.parent[id(node)]
    return node


def _span(ctx: _Ctx, node: ast.AST, site: Site) -> tuple[ast.AST, bool]:
    """The node whose source text gets rewritten and whether it is a whole statement.

    Statement edits (removals, a swapped if/else, ``x op= y``, a bare ``return``) rewrite whole
    lines; every other edit rewrites just the smallest expression that changes.
    """
    if site.operator in ("remove_statement", "missing_accumulator", "invert_if", "missing_return"):
        return node, True
    if site.operator == "broken_base_case":
        if site.choice == 0:
            return node.test, False  # type: ignore[attr-defined]
        if site.choice == 1:
            return node.body[-1].value, False  # type: ignore[attr-defined]
        return node, True
    if site.operator == "arith_swap" and isinstance(node, ast.AugAssign):
        return node, True
    if site.operator == "wrong_initial_value":
        return node.value, False  # type: ignore[attr-defined]
    if site.operator == "condition_flip":
        return node.test, False  # type: ignore[attr-defined]
    if site.operator == "off_by_one_const":
        parent = ctx.parent.get(id(node))
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            return parent, False
    return node, False


def _offsets(lines: list[str]) -> list[int]:
    out, total = [0], 0
    for line in lines:
        total += len(line)
        out.append(total)
    return out


def _char_index(offsets: list[int], lines: list[str], lineno: int, col: int) -> int:
    # ast columns are UTF-8 byte offsets
    text = lines[lineno - 1]
    return offsets[lineno - 1] + len(text.encode("utf-8")[:col].decode("utf-8", errors="replace"))


_ATOMIC = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict,
           ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.JoinedStr)


class MutationError(ValueError):
    """The requested sites overlap, or the mutated program could not be rendered faithfully."""


def apply_mutations(source: str, sites: list[Site]) -> Mutant:
    """Apply ``sites`` (non-overlapping, found by :func:`find_sites` on ``source``).

    Only the mutated spans are rewritten; the result is verified to parse to exactly the
    mutated AST. Raises :class:`MutationError` if the sites overlap or rendering fails.
    """
    original_lines = source.splitlines(keepends=True)
    tree = _ast.parse(source)
    ctx = _Ctx(tree)
    targets = []
    for site in sites:
        node = ctx.nodes[site.index]
        span_node, whole = _span(ctx, node, site)
        stmt = _stmt_of(ctx, span_node) if whole else None
        targets.append((site, node, span_node, stmt if whole else None))
    # statement-level edits replace whole lines: key spans by (start line, col)...(end)
    spans = []
    for _site, _node, span_node, stmt in targets:
        n = stmt or span_node
        begin = (n.lineno, 0 if stmt else n.col_offset)  # type: ignore[attr-defined]
        finish = (n.end_lineno, 10**9 if stmt else n.end_col_offset)  # type: ignore[attr-defined]
        spans.append((begin, finish))
    order = sorted(range(len(sites)), key=lambda i: spans[i])
    for a, b in zip(order, order[1:], strict=False):
        if spans[a][1] > spans[b][0]:
            raise MutationError("sites overlap")
    slots = [_slot(ctx, span_node) for _site, _node, span_node, _stmt in targets]
    original = {id(n) for n in ctx.nodes}
    dirty: set[int] = set()
    for _site, node, _span_node, _stmt in targets:
        dirty.add(id(node))
        if isinstance(node, ast.Call):
            dirty.add(id(node.func))
    for site, node, _span_node, _stmt in targets:
        OPERATORS[site.operator].apply(ctx, node, site.choice)
    ast.fix_missing_locations(tree)
    expected = ast.dump(tree)

    offsets = _offsets(original_lines)
    flat = "".join(original_lines)
    edits: list[tuple[int, int, str, int, bool]] = []  # start, end, new text, reference line, statement?
    for (site, _node, span_node, stmt), slot in zip(targets, slots, strict=True):
        if stmt is not None:
            first, last = stmt.lineno, stmt.end_lineno  # type: ignore[attr-defined]
            head = original_lines[first - 1]
            indent = head[: len(head) - len(head.lstrip())]
            if len(indent.expandtabs()) != stmt.col_offset:  # type: ignore[attr-defined]
                raise MutationError("statement does not start its line")
            if _removed(site):
                new_text = indent + "pass\n" if id(stmt) in ctx.pass_for else ""
            else:
                new_text = "".join(indent + ln + "\n" for ln in ast.unparse(stmt).splitlines())
            edits.append((offsets[first - 1], offsets[last], new_text, first, True))
        else:
            n = span_node  # its positions locate the text; the node now in its slot is the new code
            start = _char_index(offsets, original_lines, n.lineno, n.col_offset)  # type: ignore[attr-defined]
            end = _char_index(offsets, original_lines, n.end_lineno, n.end_col_offset)  # type: ignore[attr-defined]
            text = _render(_at(slot), source, original, dirty)
            edits.append((start, end, text, n.lineno, False))  # type: ignore[attr-defined]

    def render(paren: bool) -> str:
        out = flat
        for start, end, new, _line, is_stmt in sorted(edits, key=lambda e: e[0], reverse=True):
            out = out[:start] + ("(" + new + ")" if paren and not is_stmt else new) + out[end:]
        return out

    result = render(False)
    if normalized(result) != expected:
        result = render(True)
        if normalized(result) != expected:
            raise MutationError("mutated program does not round-trip")
    new_lines = result.splitlines()
    deltas = [(e[0], e[2].count("\n") - flat[e[0]:e[1]].count("\n")) for e in edits]
    mutations = []
    for (site, _node, _span_node, _stmt), (start, _end, new_text, ref_line, is_stmt) in zip(targets, edits, strict=True):
        line = ref_line + sum(d for pos, d in deltas if pos < start)
        line = max(1, min(line, len(new_lines)))
        gone = is_stmt and new_text == ""
        mutations.append(Mutation(site.operator, site.note, line, ref_line,
                                  original_lines[ref_line - 1].rstrip("\n"), None if gone else new_lines[line - 1]))
    key = "|".join(f"{s.operator}:{s.index}:{s.choice}" for s in sites)
    return Mutant(source=result, mutations=tuple(mutations), key=key)


def _render(node: ast.AST, source: str, original: set[int], dirty: set[int]) -> str:
    """``ast.unparse(node)``, except that unchanged subtrees keep their original text (quotes,
    spacing), so a mutation does not restyle the code around it. Falls back to plain unparse
    when the spliced text does not parse back to ``node``."""
    clean: dict[int, bool] = {}

    def is_clean(n: ast.AST) -> bool:
        if id(n) not in clean:
            kids = [is_clean(c) for c in ast.iter_child_nodes(n)]  # evaluate all: memoise
            clean[id(n)] = id(n) in original and id(n) not in dirty and all(kids) and hasattr(n, "end_col_offset")
        return clean[id(n)]

    if is_clean(node):
        return ast.get_source_segment(source, node) or ast.unparse(node)
    twin = copy.deepcopy(node)
    origin = {id(c): o for o, c in zip(ast.walk(node), ast.walk(twin), strict=True)}
    holes: dict[str, str] = {}

    class Holes(ast.NodeTransformer):
        def visit(self, n: ast.AST) -> ast.AST:
            o = origin.get(id(n))
            if o is not None and isinstance(o, ast.expr) and is_clean(o):
                text = ast.get_source_segment(source, o)
                if text is not None and "\n" not in text:
                    key = f"__tf_hole_{len(holes)}__"
                    holes[key] = text
                    return ast.Name(key, ast.Load())
            return self.generic_visit(n)

    text = ast.unparse(Holes().visit(twin))
    for key, value in holes.items():
        text = text.replace(key, value)
    try:
        ok = ast.dump(_ast.parse(text, mode="eval").body) == ast.dump(node)
    except SyntaxError:
        ok = False
    return text if ok else ast.unparse(node)


def _slot(ctx: _Ctx, node: ast.AST) -> tuple[ast.AST, str, int | None]:
    parent = ctx.parent.get(id(node))
    if parent is None:
        return node, "", None
    for name, value in ast.iter_fields(parent):
        if value is node:
            return parent, name, None
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is node:
                    return parent, name, i
    raise MutationError("node not found in its parent")


def _at(slot: tuple[ast.AST, str, int | None]) -> ast.AST:
    parent, name, index = slot
    if not name:
        return parent
    value = getattr(parent, name)
    return value[index] if index is not None else value


def _removed(site: Site) -> bool:
    return site.operator in ("remove_statement", "missing_accumulator") or (
        site.operator == "broken_base_case" and site.choice == 2)


def _overlaps(a: Site, b: Site) -> bool:
    return not (a.end_line < b.line or b.end_line < a.line)


def sample_mutants(source: str, seed: int, *, max_mutations: int = 1, min_mutations: int = 1,
                   operators: list[str] | None = None, limit: int | None = None) -> Iterator[Mutant]:
    """Yield distinct mutants of ``source`` in an order fixed by ``seed``.

    Single mutations come first (unless ``min_mutations > 1``) in a shuffled order,
    round-robin over operators so no operator dominates; when ``max_mutations > 1``,
    combinations of ``max(2, min_mutations)``..``max_mutations`` sites on different lines
    follow. Mutants that fail to render, or that normalise to the reference or to an earlier
    mutant, are skipped. Validation (running tests) is the caller's job.
    """
    rng = random.Random(seed)
    sites = find_sites(source, operators)
    ref_norm = normalized(source)
    seen = {ref_norm}
    by_op: dict[str, list[Site]] = {}
    for s in sites:
        by_op.setdefault(s.operator, []).append(s)
    for group in by_op.values():
        rng.shuffle(group)
    singles: list[Site] = []
    names = sorted(by_op)
    rng.shuffle(names)
    while any(by_op.values()):
        for name in names:
            if by_op[name]:
                singles.append(by_op[name].pop())
    produced = 0

    def emit(combo: list[Site]) -> Mutant | None:
        try:
            mutant = apply_mutations(source, combo)
        except (MutationError, ValueError, SyntaxError, RecursionError):
            return None
        norm = normalized(mutant.source)
        if norm is None or norm in seen:
            return None
        seen.add(norm)
        return mutant

    for site in singles if min_mutations <= 1 else ():
        m = emit([site])
        if m is not None:
            yield m
            produced += 1
            if limit is not None and produced >= limit:
                return
    if max_mutations < 2 or len(singles) < 2:
        return
    # combinations: operators are drawn uniformly first, then one of their sites, so operators
    # with many sites (wrong_variable) do not crowd out the others
    pool: dict[str, list[Site]] = {}
    for site in singles:
        pool.setdefault(site.operator, []).append(site)
    op_names = sorted(pool)
    attempts = 0
    while attempts < 40 * max(1, len(singles)):
        attempts += 1
        k = rng.randint(max(2, min_mutations), max_mutations)
        combo = [rng.choice(pool[rng.choice(op_names)]) for _ in range(k)]
        if any(a == b or _overlaps(a, b) for i, a in enumerate(combo) for b in combo[i + 1:]):
            continue
        m = emit(sorted(combo, key=lambda s: (s.line, s.index)))
        if m is not None:
            yield m
            produced += 1
            if limit is not None and produced >= limit:
                return
