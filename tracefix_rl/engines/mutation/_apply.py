"""Finding an operator's sites in a program and applying them, rewriting only the mutated spans."""

from __future__ import annotations

import ast
import copy

from tracefix_rl.core import safe_ast
from tracefix_rl.engines.mutation._context import Ctx, position
from tracefix_rl.engines.mutation._model import Mutant, Mutation, MutationError, Site, normalized
from tracefix_rl.engines.mutation.operators import OPERATORS

__all__ = ["apply_mutations", "find_sites"]


def find_sites(source: str, operators: list[str] | None = None) -> list[Site]:
    """Every site of every (selected) operator in ``source``, in a deterministic order.

    Nodes of the module's top level that are not inside a function or class (test fixtures,
    constants) are not mutated.
    """
    tree = safe_ast.parse(source)
    ctx = Ctx(tree)
    ops = [OPERATORS[n] for n in (operators or OPERATORS)]
    out: list[Site] = []
    for index, node in enumerate(ctx.nodes):
        if ctx.func.get(id(node)) is None:
            continue
        line, end = position(node)
        for op in ops:
            if not isinstance(node, op.node_types):
                continue
            for choice, note in op.sites(ctx, node):
                out.append(Site(op.name, index, choice, line, end, note))
    return out


def _stmt_of(ctx: Ctx, node: ast.AST) -> ast.AST:
    while not isinstance(node, ast.stmt):
        node = ctx.parent[id(node)]
    return node


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


def apply_mutations(source: str, sites: list[Site]) -> Mutant:
    """Apply ``sites`` (non-overlapping, found by :func:`find_sites` on ``source``).

    Only the mutated spans are rewritten; the result is verified to parse to exactly the
    mutated AST. Raises :class:`MutationError` if the sites overlap or rendering fails.
    """
    original_lines = source.splitlines(keepends=True)
    tree = safe_ast.parse(source)
    ctx = Ctx(tree)
    targets = []
    for site in sites:
        node = ctx.nodes[site.index]
        span_node, whole = OPERATORS[site.operator].span(ctx, node, site.choice)
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
            if OPERATORS[site.operator].removes(site.choice):
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
        ok = ast.dump(safe_ast.parse(text, mode="eval").body) == ast.dump(node)
    except SyntaxError:
        ok = False
    return text if ok else ast.unparse(node)


def _slot(ctx: Ctx, node: ast.AST) -> tuple[ast.AST, str, int | None]:
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
