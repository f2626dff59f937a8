"""A parsed program as the operators see it (:class:`Ctx`), and the AST edits they share."""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["Ctx", "const", "int_const", "is_docstring", "is_elif", "position", "remove_statement", "replace_child"]


class Ctx:
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


def position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "end_lineno", 0) or getattr(node, "lineno", 0)


def replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
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


def const(value: int | float | str | bool | None) -> ast.expr:
    """A constant node that round-trips through source: negative numbers are ``-(abs)``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def int_const(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def is_elif(ctx: Ctx, node: ast.AST) -> bool:
    parent = ctx.parent.get(id(node))
    return isinstance(parent, ast.If) and len(parent.orelse) == 1 and parent.orelse[0] is node


def is_docstring(ctx: Ctx, node: ast.AST) -> bool:
    parent = ctx.parent.get(id(node))
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Constant):
        return False
    body = getattr(parent, "body", None)
    return isinstance(body, list) and bool(body) and body[0] is node and isinstance(node.value.value, str)


def remove_statement(ctx: Ctx, node: ast.stmt) -> None:
    parent = ctx.parent[id(node)]
    for _name, value in ast.iter_fields(parent):
        if isinstance(value, list) and any(item is node for item in value):
            value[:] = [s for s in value if s is not node]
            if not value:
                value.append(ast.Pass())
                ctx.pass_for.add(id(node))
            return
    raise ValueError("statement not found in its parent")
