"""The mutation operators, one self-contained class each, and their registry :data:`OPERATORS`.

An operator knows where it can act (:meth:`Operator.sites`), how to act (:meth:`Operator.apply`),
which source span its edit rewrites (:meth:`Operator.span`), whether an edit deletes a statement
(:meth:`Operator.removes`) and how easy its bugs are to overlook (:attr:`Operator.subtlety`, used by
the difficulty rating). The engine never switches on operator names. Add an operator by writing
a subclass and listing an instance in :data:`OPERATORS`.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator

from tracefix_rl.engines.mutation._context import (
    Ctx,
    const,
    int_const,
    is_docstring,
    is_elif,
    remove_statement,
    replace_child,
)

__all__ = ["OPERATORS", "Operator", "operator_names"]


class Operator:
    """Base class: an operator names itself and finds and applies its sites."""

    name = ""
    node_types: tuple[type, ...] = ()
    #: How easy this operator's bugs are to overlook, 0 (obvious) .. 1 (subtle); the difficulty
    #: rating averages it over a task's mutations.
    subtlety = 0.3

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        """``(choice, note)`` for every way this operator can act on ``node``."""
        raise NotImplementedError

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        """Mutate the tree in place at ``node`` using ``choice``."""
        raise NotImplementedError

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        """The node whose source text the edit rewrites, and whether it is a whole statement.

        Statement edits rewrite whole lines; by default an edit rewrites just ``node``.
        """
        return node, False

    def removes(self, choice: int) -> bool:
        """Whether the edit deletes the statement (a ``pass`` keeps an emptied block valid)."""
        return False


class OffByOneConst(Operator):
    """An integer constant ``c`` becomes ``c + 1`` (choice 0) or ``c - 1`` (choice 1).

    Constants inside ``range(...)`` calls, slices and bases of recursion are left to the more
    specific operators; negative literals (``-1``) are treated as the constant ``-1``.
    """

    name = "off_by_one_const"
    node_types = (ast.Constant,)
    subtlety = 0.3

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if not int_const(node) or isinstance(ctx.parent.get(id(node)), ast.Slice):
            return
        value = node.value  # type: ignore[attr-defined]
        yield 0, f"{value} -> {value + 1}"
        yield 1, f"{value} -> {value - 1}"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        value = node.value + (1 if choice == 0 else -1)  # type: ignore[attr-defined]
        parent = ctx.parent[id(node)]
        if value >= 0 or (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)):
            node.value = value  # type: ignore[attr-defined]
        else:
            replace_child(parent, node, const(value))

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        parent = ctx.parent.get(id(node))
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            return parent, False  # the literal -1 is the constant -1
        return node, False


def _shift(expr: ast.expr, delta: int) -> ast.expr:
    if int_const(expr):
        return const(expr.value + delta)  # type: ignore[attr-defined]
    if isinstance(expr, ast.BinOp) and int_const(expr.right) and isinstance(expr.op, ast.Add | ast.Sub):
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
    subtlety = 0.4

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
                and 1 <= len(node.args) <= 3 and not node.keywords
                and not any(isinstance(a, ast.Starred) for a in node.args)):
            return
        yield 0, "range stop + 1"
        yield 1, "range stop - 1"
        if len(node.args) >= 2:
            yield 2, "range start + 1"
            yield 3, "range start - 1"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
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
    subtlety = 0.2

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        op = type(node.op)  # type: ignore[attr-defined]
        if isinstance(node, ast.BinOp) and any(
                isinstance(s, ast.Constant) and isinstance(s.value, str) for s in (node.left, node.right)):
            return
        for i, new in enumerate(_ARITH.get(op, [])):
            yield i, f"{_SYMBOL[op]} -> {_SYMBOL[new]}"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        node.op = _ARITH[type(node.op)][choice]()  # type: ignore[attr-defined]

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node, isinstance(node, ast.AugAssign)  # ``x op= y`` is rewritten as a statement


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
    subtlety = 0.5

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Compare)
        for i, op in enumerate(node.ops):
            for j, new in enumerate(_COMPARE.get(type(op), [])):
                yield 2 * i + j, f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
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
    subtlety = 0.1

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        test = node.test  # type: ignore[attr-defined]
        if isinstance(test, ast.Constant):
            return
        yield 0, "condition negated"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        node.test = _negate(node.test)  # type: ignore[attr-defined]

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node.test, False  # type: ignore[attr-defined]


class BoolOpSwap(Operator):
    """``a and b`` becomes ``a or b`` and vice versa."""

    name = "bool_op_swap"
    node_types = (ast.BoolOp,)
    subtlety = 0.4

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        yield 0, "and -> or" if isinstance(node.op, ast.And) else "or -> and"  # type: ignore[attr-defined]

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]


_BUILTIN_NAMES = frozenset(dir(builtins))


class WrongVariable(Operator):
    """A read of a local variable is replaced by another parameter or local of the same
    function (choice = index among the alternatives, at most two, alphabetical).
    Call targets and attribute bases of method calls are left alone."""

    name = "wrong_variable"
    node_types = (ast.Name,)
    subtlety = 0.4

    def _alternatives(self, ctx: Ctx, node: ast.Name) -> list[str]:
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

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Name)
        for i, alt in enumerate(self._alternatives(ctx, node)):
            yield i, f"{node.id} -> {alt}"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Name)
        node.id = self._alternatives(ctx, node)[choice]


_NONCOMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


class SwapArguments(Operator):
    """Two adjacent positional arguments of a call trade places (choice = position of the
    first), or the operands of a non-commutative operator (``-``, ``/``, ``//``, ``%``, ``**``)
    are swapped. Calls whose two arguments are textually identical are skipped."""

    name = "swap_arguments"
    node_types = (ast.Call, ast.BinOp)
    subtlety = 0.3

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
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

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        if isinstance(node, ast.BinOp):
            node.left, node.right = node.right, node.left
        else:
            args = node.args  # type: ignore[attr-defined]
            args[choice], args[choice + 1] = args[choice + 1], args[choice]


class _DeletesStatement(Operator):
    """Base of the operators that delete the statement at a site (rendered as whole lines)."""

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        remove_statement(ctx, node)  # type: ignore[arg-type]

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node, True

    def removes(self, choice: int) -> bool:
        return True


class RemoveStatement(_DeletesStatement):
    """An expression statement (typically a call such as ``result.append(x)``) or a plain
    assignment is deleted; a body left empty becomes ``pass``. Docstrings, augmented
    assignments in loops (see ``missing_accumulator``) and module-level statements are skipped."""

    name = "remove_statement"
    node_types = (ast.Expr, ast.Assign, ast.AnnAssign)
    subtlety = 0.3

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if ctx.func.get(id(node)) is None or is_docstring(ctx, node):
            return
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom):
            return
        yield 0, f"{type(node).__name__.lower()} statement removed"



class MissingReturn(Operator):
    """``return <value>`` becomes a bare ``return``: the function returns ``None`` there."""

    name = "missing_return"
    node_types = (ast.Return,)
    subtlety = 0.0

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        value = node.value  # type: ignore[attr-defined]
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            yield 0, "return value dropped"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        node.value = None  # type: ignore[attr-defined]

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node, True  # a bare ``return`` is rewritten as a statement


class MissingAccumulator(_DeletesStatement):
    """An augmented assignment inside a loop (``total += x``, ``count -= 1``) is deleted, so
    the accumulator (or counter) is never updated there."""

    name = "missing_accumulator"
    node_types = (ast.AugAssign,)
    subtlety = 0.2

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        if ctx.loop_depth.get(id(node), 0) > 0:
            yield 0, "accumulator update removed"



class WrongSlice(Operator):
    """A slice goes wrong: lower bound ``+1``/``-1`` (choices 0, 1) or dropped (2); upper
    bound ``+1``/``-1`` (3, 4) or dropped (5); a constant step's sign flips (6)."""

    name = "wrong_slice"
    node_types = (ast.Slice,)
    subtlety = 0.4

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Slice)
        for base, bound, label in ((0, node.lower, "lower"), (3, node.upper, "upper")):
            if bound is not None:
                yield base, f"slice {label} bound + 1"
                yield base + 1, f"slice {label} bound - 1"
                yield base + 2, f"slice {label} bound dropped"
        step = node.step
        if step is not None and (int_const(step) or (isinstance(step, ast.UnaryOp) and int_const(step.operand))):
            yield 6, "slice step sign flipped"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.Slice)
        if choice == 6:
            step = node.step
            if isinstance(step, ast.UnaryOp):
                node.step = step.operand
            else:
                node.step = const(-step.value)  # type: ignore[union-attr]
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
            return [(const(a), f"{v} -> {a}") for a in alts]
        if type(v) is float:
            return [(const(v + 1.0), f"{v} -> {v + 1.0}")]
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
    if isinstance(value, ast.Subscript) and int_const(value.slice):
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
    subtlety = 0.5

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Assign)
        if ctx.func.get(id(node)) is None or ctx.loop_depth.get(id(node), 0) > 0:
            return
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name | ast.Attribute):
            return
        for i, (_new, note) in enumerate(_initial_alternatives(node.value)):
            yield i, note

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        node.value = _initial_alternatives(node.value)[choice][0]  # type: ignore[attr-defined]

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node.value, False  # type: ignore[attr-defined]


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
    subtlety = 0.3

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.Call)
        f = node.func
        if isinstance(f, ast.Name) and f.id in _BUILTIN_SWAPS:
            yield 0, f"{f.id} -> {_BUILTIN_SWAPS[f.id]}"
        elif isinstance(f, ast.Attribute) and f.attr == "pop" and len(node.args) <= 1:
            yield 1, "pop() -> pop(0)" if not node.args else "pop(i) -> pop()"
        elif isinstance(f, ast.Attribute) and f.attr in _METHOD_SWAPS and f.attr != "insert":
            yield 0, f".{f.attr} -> .{_METHOD_SWAPS[f.attr]}"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
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
    subtlety = 0.6

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.If)
        func = ctx.func.get(id(node))
        if func is None or not _calls_itself(func) or node.orelse or is_elif(ctx, node):
            return
        if not node.body or not isinstance(node.body[-1], ast.Return):
            return
        if isinstance(node.test, ast.Compare) and len(node.test.ops) == 1 and type(node.test.ops[0]) in _COMPARE:
            yield 0, "base-case comparison changed"
        ret = node.body[-1].value
        if ret is not None and _initial_alternatives(ret):
            yield 1, "base-case value changed"
        yield 2, "base case removed"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.If)
        if choice == 0:
            cmp = node.test
            cmp.ops[0] = _COMPARE[type(cmp.ops[0])][0]()  # type: ignore[attr-defined]
        elif choice == 1:
            ret = node.body[-1]
            ret.value = _initial_alternatives(ret.value)[0][0]  # type: ignore[attr-defined,arg-type]
        else:
            remove_statement(ctx, node)

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        if choice == 0:
            return node.test, False  # type: ignore[attr-defined]
        if choice == 1:
            return node.body[-1].value, False  # type: ignore[attr-defined]
        return node, True

    def removes(self, choice: int) -> bool:
        return choice == 2


class InvertIf(Operator):
    """An ``if``/``else`` exchanges its two branches (the condition stays); ``elif`` chains
    are left alone."""

    name = "invert_if"
    node_types = (ast.If,)
    subtlety = 0.2

    def sites(self, ctx: Ctx, node: ast.AST) -> Iterator[tuple[int, str]]:
        assert isinstance(node, ast.If)
        if node.orelse and not (len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)) \
                and not is_elif(ctx, node):
            yield 0, "if/else branches swapped"

    def apply(self, ctx: Ctx, node: ast.AST, choice: int) -> None:
        assert isinstance(node, ast.If)
        node.body, node.orelse = node.orelse, node.body

    def span(self, ctx: Ctx, node: ast.AST, choice: int) -> tuple[ast.AST, bool]:
        return node, True


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    OffByOneConst(), OffByOneRange(), ArithSwap(), CompareSwap(), ConditionFlip(), BoolOpSwap(),
    WrongVariable(), SwapArguments(), RemoveStatement(), MissingReturn(), MissingAccumulator(),
    WrongSlice(), WrongInitialValue(), WrongBuiltin(), BrokenBaseCase(), InvertIf(),
)}


def operator_names() -> list[str]:
    """Names of every operator, in documentation order."""
    return list(OPERATORS)
