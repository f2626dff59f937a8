"""A model-free repair baseline: localise the bug, try single-site edits, keep what helps, submit.

The loop of one episode, in the order the agent acts::

    RUN_TESTS                          which visible tests fail, how, and on which line
    TRACE a failing and a passing test which lines each one executes
    rank the candidate edits           suspicious line x how likely that kind of edit is
    for each candidate, best first:
        REPLACE_LINES                  (one edit that also undoes the previous, rejected try)
        RUN_TESTS
        every visible test passes  ->  SUBMIT
        more pass and none broke   ->  keep the edit, trace again, re-rank
    budget nearly spent            ->  put the best program back, SUBMIT

It acts only through the environment's actions (RUN_TESTS, TRACE, REPLACE_LINES, SUBMIT) and
reads only the observations: the numbered program, the visible test results and the trace
rendering. It never sees the reference solution or the hidden tests, so it can overfit the
visible tests exactly as a model can, and the hidden tests decide whether it resolved the task.

Candidates (:func:`candidate_edits`, the generators in :data:`GENERATORS`) come from:

* the mutation engine's own operators applied to the *current* program
  (:func:`tracefix_rl.engines.mutation.find_sites`): most operators are their own inverse
  (``<`` / ``<=``, ``+ 1`` / ``- 1``, a negated condition, swapped arguments, ...);
* the tables :data:`INVERSE_REWRITES` and :data:`INIT_VALUES`: the inverses the engine's
  operators cannot produce (``+`` back to ``*``, ``reversed`` back to ``sorted``, a bare
  ``return`` back to ``return <local>``, a wrong variable back to *any* other local, a lost
  initialisation or accumulator update);
* repair templates that undo no operator (``len(x)`` to ``len(x) - 1``, dedenting a
  ``return`` out of a loop, swapped tuple items, a dropped slice bound).

Ranking (:func:`rank`) multiplies a line's suspiciousness (Ochiai over the traced lines, plus
the lines failing tests raised on) by the prior of the edit's kind (:data:`PRIOR`) and by
symptom boosts (:data:`SYMPTOM_BOOSTS`: a ``None`` result favours a lost return value, an
``IndexError`` off-by-one edits, ...).
"""

from __future__ import annotations

import ast
import builtins
import math
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tracefix_rl.core import safe_ast
from tracefix_rl.core.models import CodeAction
from tracefix_rl.engines.mutation import MutationError, apply_mutations, find_sites, normalized

__all__ = [
    "GENERATORS",
    "INIT_VALUES",
    "INVERSE_REWRITES",
    "PRIOR",
    "SYMPTOM_BOOSTS",
    "Candidate",
    "Evidence",
    "RepairAgent",
    "RepairConfig",
    "candidate_edits",
    "edit_action",
    "rank",
]

# ---------------------------------------------------------------------------------------------
# Data: what to try and how likely each kind of edit is to be the repair.

#: Relative prior of each kind of edit (engine operators by name, then the tables below).
PRIOR: dict[str, float] = {
    "compare_swap": 1.0, "off_by_one_range": 1.0, "missing_return": 0.2, "return_value": 1.0,
    "off_by_one_const": 0.8, "arith_swap": 0.8, "condition_flip": 0.7, "wrong_builtin": 0.7,
    "wrong_variable": 0.6, "other_variable": 0.5, "swap_arguments": 0.6, "bool_op_swap": 0.6,
    "wrong_slice": 0.5, "wrong_initial_value": 0.6, "initial_value": 0.6, "invert_if": 0.4,
    "broken_base_case": 0.4, "inverse_binop": 0.5, "inverse_call": 0.5, "len_shift": 0.7,
    "dedent_return": 0.6, "accumulate": 0.5, "initialise": 0.5, "swap_items": 0.4, "slice_bound": 0.3,
    "remove_statement": 0.15, "missing_accumulator": 0.1,
}

#: Symptom of a failing test -> multiplier per kind of edit. Symptoms: ``none`` (returned None),
#: ``negated`` (returned -expected), ``off_by_one`` (a number one away), ``exc:<Type>``,
#: ``timeout``, ``wrong_value`` (any other wrong result).
SYMPTOM_BOOSTS: dict[str, dict[str, float]] = {
    "none": {"return_value": 6.0, "dedent_return": 2.0, "missing_return": 0.5},
    "negated": {"arith_swap": 3.0, "swap_arguments": 3.0, "inverse_binop": 2.0},
    "off_by_one": {"off_by_one_const": 2.5, "off_by_one_range": 2.5, "compare_swap": 1.5, "len_shift": 2.0,
                   "wrong_initial_value": 1.5, "initial_value": 1.5},
    "exc:IndexError": {"off_by_one_range": 2.5, "off_by_one_const": 2.0, "compare_swap": 2.0, "len_shift": 3.0,
                       "wrong_slice": 1.5},
    "exc:TypeError": {"return_value": 3.0, "wrong_variable": 1.5, "other_variable": 1.5, "swap_arguments": 1.5,
                      "wrong_builtin": 1.5, "inverse_binop": 1.5, "initial_value": 1.5},
    "exc:ZeroDivisionError": {"arith_swap": 2.0, "off_by_one_const": 2.0, "wrong_initial_value": 1.5},
    "exc:RecursionError": {"broken_base_case": 4.0, "compare_swap": 1.5, "off_by_one_const": 1.5,
                           "arith_swap": 1.5},
    "exc:UnboundLocalError": {"initialise": 8.0, "invert_if": 2.0, "condition_flip": 1.5},
    "exc:NameError": {"initialise": 8.0},
    "exc:KeyError": {"wrong_variable": 1.5, "other_variable": 1.5, "condition_flip": 1.5},
    "exc:AttributeError": {"return_value": 2.0, "wrong_builtin": 2.0, "wrong_variable": 1.5},
    "timeout": {"off_by_one_const": 1.5, "arith_swap": 2.0, "compare_swap": 1.5, "condition_flip": 1.5,
                "accumulate": 2.0, "wrong_variable": 1.5},
}

#: Inverses the engine's operators do not produce from the buggy program (see the module doc).
#: ``binop``: a buggy operator -> the operators it may have replaced; ``call``: a buggy
#: builtin -> the builtin it may have replaced; ``method``: the same for methods;
#: ``initial``: a buggy initial constant -> source texts it may have replaced
#: (``{param}[0]`` is tried with every parameter of the function); ``return``: what a bare
#: ``return`` may have returned besides a local variable.
INVERSE_REWRITES: dict[str, dict[Any, tuple[str, ...]]] = {
    "binop": {ast.Add: ("*",), ast.Mult: ("/", "**"), ast.FloorDiv: ("%",)},
    "call": {"reversed": ("sorted",), "round": ("int",)},
    "method": {"append": ("appendleft",), "pop": ("popleft",), "discard": ("add",), "count": ("index",),
               "rsplit": ("split",)},
    "initial": {0: ("{param}[0]", "None", "-1"), 1.0: ("0.0",), "None": ("[]",)},
    "return": {None: ("True", "False", "None", "0", "-1", "[]", "''")},
}

#: Initial values for a lost initialisation, each with the syntax (parent node types of the
#: name) that hints at it: ``x.append`` -> a list, ``x[k] = v`` -> a dict, ``x += 1`` -> 0.
INIT_VALUES: dict[str, tuple[str, ...]] = {
    "0": ("AugAssign", "BinOp", "Compare"), "[]": ("Attribute",), "{}": ("Subscript",), "1": ("AugAssign",),
    "''": (), "None": (), "set()": (), "False": ("UnaryOp",),
}

# ---------------------------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True)
class Candidate:
    """One single-site edit of the current program, built only when it is about to be tried."""

    kind: str
    """An engine operator's name or a key of :data:`PRIOR` (``return_value``, ``len_shift``, ...)."""
    line: int
    """The line of the current program it changes (what its suspiciousness is looked up by)."""
    note: str
    build: Callable[[], str | None]
    """The whole new program (``None`` if it cannot be rendered)."""


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset in the joined source of an AST position (columns are UTF-8 bytes)."""
    before = sum(len(ln) for ln in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", errors="replace"))


def _splice(source: str, node: Any, text: str) -> str:
    """``source`` with the text of ``node`` replaced by ``text``."""
    lines = source.splitlines(keepends=True)
    start = _offset(lines, node.lineno, node.col_offset)
    stop = _offset(lines, node.end_lineno, node.end_col_offset)
    return source[:start] + text + source[stop:]


def _ready(source: str) -> Callable[[], str | None]:
    """A builder for a program that is already written out."""
    return partial(str, source)


def _swap(source: str, a: Any, b: Any) -> str:
    """``source`` with the texts of nodes ``a`` and ``b`` (``a`` first) exchanged."""
    lines = source.splitlines(keepends=True)
    start, end = _offset(lines, a.lineno, a.col_offset), _offset(lines, b.end_lineno, b.end_col_offset)
    a_end, b_start = _offset(lines, a.end_lineno, a.end_col_offset), _offset(lines, b.lineno, b.col_offset)
    return source[:start] + source[b_start:end] + source[a_end:b_start] + source[start:a_end] + source[end:]


def _segment(source: str, node: ast.AST) -> str:
    return ast.get_source_segment(source, node) or ast.unparse(node)


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _local_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    names.discard("self")
    return sorted(names)


def _engine_edits(source: str) -> Iterator[Candidate]:
    """Every site of the mutation engine's operators on the current program."""
    try:
        sites = find_sites(source)
    except (SyntaxError, ValueError, RecursionError):
        return
    for site in sites:
        def build(site: Any = site) -> str | None:
            try:
                return apply_mutations(source, [site]).source
            except (MutationError, ValueError, SyntaxError, RecursionError):
                return None
        yield Candidate(site.operator, site.line, site.note, build)


def _inverse_edits(source: str, tree: ast.Module) -> Iterator[Candidate]:
    """:data:`INVERSE_REWRITES`, the wrong-variable inverse (every other local) and lost return values."""
    binops, calls = INVERSE_REWRITES["binop"], INVERSE_REWRITES["call"]
    methods, initial = INVERSE_REWRITES["method"], INVERSE_REWRITES["initial"]
    for func in _functions(tree):
        local = _local_names(func)
        params = [a.arg for a in func.args.args if a.arg != "self"]
        for node in ast.walk(func):
            if isinstance(node, ast.BinOp) and type(node.op) in binops:
                left, right = _segment(source, node.left), _segment(source, node.right)
                for sym in binops[type(node.op)]:
                    yield Candidate("inverse_binop", node.lineno, f"-> {sym}",
                                partial(_splice, source, node, f"{left} {sym} {right}"))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in calls:
                for name in calls[node.func.id]:
                    yield Candidate("inverse_call", node.lineno, f"{node.func.id} -> {name}",
                                partial(_splice, source, node.func, name))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                attr = node.func
                for name in methods[attr.attr]:
                    text = f"{_segment(source, attr.value)}.{name}"
                    yield Candidate("inverse_call", node.lineno, f".{attr.attr} -> .{name}",
                                partial(_splice, source, attr, text))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local:
                for other in local:
                    if other != node.id:
                        yield Candidate("other_variable", node.lineno, f"{node.id} -> {other}",
                                    partial(_splice, source, node, other))
            elif isinstance(node, ast.Return) and node.value is None:
                for value in (*local, *INVERSE_REWRITES["return"][None]):
                    yield Candidate("return_value", node.lineno, f"return {value}",
                                partial(_splice, source, node, f"return {value}"))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Constant):
                key = node.value.value if node.value.value is not None else "None"
                for text in initial.get(key, ()) if not isinstance(key, bool) else ():
                    for alt in ([text.format(param=p) for p in params] if "{param}" in text else [text]):
                        yield Candidate("initial_value", node.lineno, f"= {alt}",
                                    partial(_splice, source, node.value, alt))


def _template_edits(source: str, tree: ast.Module) -> Iterator[Candidate]:
    """Common repairs that are not inverses of an engine operator."""
    lines = source.splitlines()
    for node in ast.walk(tree):
        # len(x) -> len(x) - 1 / + 1 (an off-by-one bound outside range())
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
            text = _segment(source, node)
            for delta in ("- 1", "+ 1"):
                yield Candidate("len_shift", node.lineno, f"{text} {delta}",
                            partial(_splice, source, node, f"({text} {delta})"))
        # a return as the last statement of a loop body: dedent it out of the loop
        elif isinstance(node, ast.For | ast.While) and isinstance(node.body[-1], ast.Return) and not node.orelse:
            ret = node.body[-1]
            if ret.lineno == ret.end_lineno:
                indent = lines[node.lineno - 1][: node.col_offset]
                new = lines[:]
                new[ret.lineno - 1] = indent + lines[ret.lineno - 1].lstrip()
                yield Candidate("dedent_return", ret.lineno, "return moved out of the loop",
                            _ready("\n".join(new) + "\n"))
        # swapped items of a tuple (or list) display: (a, b) -> (b, a)
        elif isinstance(node, ast.Tuple | ast.List) and 2 <= len(node.elts) <= 4 \
                and all(e.lineno == node.lineno for e in node.elts):
            for i in range(len(node.elts) - 1):
                a, b = node.elts[i], node.elts[i + 1]
                sa, sb = _segment(source, a), _segment(source, b)
                if sa != sb:
                    yield Candidate("swap_items", node.lineno, f"{sa} <-> {sb}", partial(_swap, source, a, b))
        # a slice bound that was dropped: xs[a:] -> xs[a:-1], xs[:b] -> xs[1:b]
        elif isinstance(node, ast.Slice) and node.step is None and (node.lower is None) != (node.upper is None):
            bound = node.upper if node.upper is not None else node.lower
            assert bound is not None
            text = _segment(source, bound)
            bounds = f"1:{text}" if node.lower is None else f"{text}:-1"
            yield Candidate("slice_bound", node.lineno, f"[{bounds}]", partial(_splice, source, node, bounds))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of ``body``, nested blocks included (not nested functions)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, name, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _statements(handler.body)


def _update_edits(source: str, tree: ast.Module) -> Iterator[Candidate]:
    """A lost update of a loop's accumulator or counter (``total += x``, ``out.append(x)``,
    ``count += 1``): inserted after any statement of the loop (replacing a ``pass`` that holds
    an otherwise empty block). The accumulator is a variable assigned before the loop and
    never inside it."""
    lines = source.splitlines()
    for func in _functions(tree):
        before = [s for s in _statements(func.body) if isinstance(s, ast.Assign)]
        for loop in (n for n in _statements(func.body) if isinstance(n, ast.For | ast.While)):
            inside = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            item = loop.target.id if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name) else None
            updates: list[str] = []
            for assign in (a for a in before if a.lineno < loop.lineno):
                for target in assign.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    for var in (n.id for n in names if isinstance(n, ast.Name) and n.id not in inside):
                        value = assign.value if isinstance(target, ast.Name) else None
                        if isinstance(value, ast.List | ast.ListComp):
                            updates += [f"{var}.append({item})"] if item else []
                        elif not isinstance(value, ast.Dict | ast.Set | ast.Tuple | ast.Lambda):
                            updates += [f"{var} += 1", f"{var} -= 1"] + ([f"{var} += {item}"] if item else [])
            spots = [(loop.body[0].lineno - 1, loop.body[0])]  # (insert after this line, indent like this)
            for stmt in _statements(loop.body):
                body = getattr(stmt, "body", None)
                if body and isinstance(body, list):
                    spots.append((body[0].lineno - 1, body[0]))
                spots.append((stmt.end_lineno or stmt.lineno, stmt))
            for at, like in spots:
                indent = lines[like.lineno - 1][: like.col_offset]
                placeholder = isinstance(like, ast.Pass) and at == like.lineno  # replace the pass itself
                for update in dict.fromkeys(updates):
                    new = lines[: at - placeholder] + [indent + update] + lines[at:]
                    yield Candidate("accumulate", at, update, _ready("\n".join(new) + "\n"))


def _bound_names(tree: ast.AST) -> set[str]:
    """Names a program binds anywhere except by ``x op= y``: assignments, loop and
    comprehension targets, imports, definitions, parameters, handlers, ``global``."""
    augmented = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del) and id(node) not in augmented:
            out.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            out.update(node.names)
    return out


def _init_edits(source: str, tree: ast.Module) -> Iterator[Candidate]:
    """A lost initialisation (``out = []``, ``total = 0``): a name the program reads but never
    binds (or only updates with ``x op= y``) gets an initial value from :data:`INIT_VALUES`,
    at the top of its function or just before the statement that first uses it."""
    lines = source.splitlines()
    bound = _bound_names(tree) | set(dir(builtins))
    for func in _functions(tree):
        first_use: dict[str, ast.stmt] = {}
        for stmt in _statements(func.body):
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and node.id not in bound:
                    first_use.setdefault(node.id, stmt)
        body = func.body[1:] if _is_docstring(func.body[0]) and len(func.body) > 1 else func.body
        for name, stmt in first_use.items():
            uses = {type(p).__name__ for p in ast.walk(func) for c in ast.iter_child_nodes(p)
                    if isinstance(c, ast.Name) and c.id == name}
            values = sorted(INIT_VALUES, key=lambda v: -sum(h in uses for h in INIT_VALUES[v]))
            for anchor in dict.fromkeys((body[0], stmt)):
                indent = lines[anchor.lineno - 1][: anchor.col_offset]
                for value in values:
                    new = lines[: anchor.lineno - 1] + [f"{indent}{name} = {value}"] + lines[anchor.lineno - 1:]
                    yield Candidate("initialise", anchor.lineno, f"{name} = {value}", _ready("\n".join(new) + "\n"))


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


#: What :func:`candidate_edits` runs after the engine's operators, in order (each yields
#: unbuilt :class:`Candidate` edits of a program, given its source and its AST).
GENERATORS: tuple[Callable[[str, ast.Module], Iterator[Candidate]], ...] = (
    _inverse_edits, _template_edits, _update_edits, _init_edits)


def candidate_edits(source: str) -> list[Candidate]:
    """Every single-site edit of ``source`` the agent knows, unranked and not yet built."""
    try:
        tree = safe_ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    out = list(_engine_edits(source))
    for gen in GENERATORS:
        out.extend(gen(source, tree))
    return out


# ---------------------------------------------------------------------------------------------
# Evidence and ranking

_TRACE_LINE = re.compile(r"^\s*(?:L(\d+)\s|-> .*\sL(\d+)$|!! exception .*\sL(\d+)$)")
_EXCEPTION_LINE = re.compile(r"^\s*!! exception .*\sL(\d+)$")


def trace_lines(text: str, n_lines: int) -> tuple[Counter[int], set[int]]:
    """Executed lines (with counts) and exception lines of a TRACE rendering, within the program."""
    executed: Counter[int] = Counter()
    raised: set[int] = set()
    for row in text.splitlines():
        m = _TRACE_LINE.match(row)
        if not m:
            continue
        line = int(next(g for g in m.groups() if g))
        if 1 <= line <= n_lines:
            executed[line] += 1
            if _EXCEPTION_LINE.match(row):
                raised.add(line)
    return executed, raised


def _number(text: str | None) -> float | None:
    try:
        value = safe_ast.literal_eval(text or "")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def symptoms(results: Iterable[Any]) -> Counter[str]:
    """The symptoms of the failing tests (see :data:`SYMPTOM_BOOSTS`), counted."""
    out: Counter[str] = Counter()
    for r in results:
        if r.passed:
            continue
        if r.status == "timeout":
            out["timeout"] += 1
        elif r.exception:
            out["exc:" + r.exception.split(":", 1)[0].strip()] += 1
        elif r.actual == "None" and r.expected != "None":
            out["none"] += 1
        else:
            got, want = _number(r.actual), _number(r.expected)
            if got is not None and want is not None and got == -want and want != 0:
                out["negated"] += 1
            elif got is not None and want is not None and abs(got - want) == 1:
                out["off_by_one"] += 1
            else:
                out["wrong_value"] += 1
    return out


@dataclass
class Evidence:
    """What the agent has learnt about the current program from test runs and traces."""

    n_lines: int
    failing: Counter[int] = field(default_factory=Counter)
    """Line -> number of failing-test traces that executed it."""
    passing: Counter[int] = field(default_factory=Counter)
    """Line -> number of passing-test traces that executed it."""
    traced_failing: int = 0
    raised: set[int] = field(default_factory=set)
    """Lines a failing test raised on (test results and trace exception frames)."""
    symptoms: Counter[str] = field(default_factory=Counter)
    raise_bonus: float = 0.5
    """Added to the suspiciousness of a line a failing test raised on."""

    def add_trace(self, text: str, *, failing: bool) -> None:
        """Add the lines one TRACE rendering executed."""
        executed, raised = trace_lines(text, self.n_lines)
        (self.failing if failing else self.passing).update(set(executed))
        self.traced_failing += int(failing)
        self.raised |= raised

    def suspiciousness(self, line: int) -> float:
        """Ochiai over the traces, a bonus for raising lines, a floor for untraced lines."""
        f, p = self.failing[line], self.passing[line]
        score = f / math.sqrt(self.traced_failing * (f + p)) if f and self.traced_failing else 0.0
        if line in self.raised:
            score += self.raise_bonus
        return score + 0.02  # every line stays a candidate, after the traced ones


def rank(edits: Iterable[Candidate], evidence: Evidence) -> list[Candidate]:
    """``edits`` best first (stable for ties).

    An edit's score is P(line) x P(kind) x P(this alternative): the line's suspiciousness, the
    kind's prior times its symptom boosts, and one over the number of alternatives of that kind
    on that line (five other variables to choose from are each less likely than one negation).
    """
    edits = list(edits)
    alternatives = Counter((e.line, e.kind) for e in edits)

    def score(edit: Candidate) -> float:
        boost = 1.0
        for symptom in evidence.symptoms:
            boost *= SYMPTOM_BOOSTS.get(symptom, {}).get(edit.kind, 1.0)
        prior = PRIOR.get(edit.kind, 0.3) * boost / alternatives[(edit.line, edit.kind)]
        return evidence.suspiciousness(edit.line) * prior

    return sorted(edits, key=score, reverse=True)


# ---------------------------------------------------------------------------------------------
# Turning a candidate into one action


def _would_shift(block: list[str], anchor: str) -> bool:
    """Whether the environment's auto-indent would move ``block`` (first line flush, anchor indented)."""
    first = next((ln for ln in block if ln.strip()), None)
    return first is not None and first == first.lstrip() and anchor != anchor.lstrip()


def edit_action(current: list[str], target: list[str], *, thought: str = "") -> CodeAction:
    """One REPLACE_LINES that turns ``current`` into ``target``.

    It replaces the span between the two programs' common prefix and suffix, widened by a line
    where needed: a pure insertion takes a neighbouring line along, a block the environment's
    auto-indent would shift starts one line earlier, and a deletion of more than five lines
    keeps a line so it is not refused as destructive, and a block of blank lines takes a line
    along so it is not taken for a deletion. (Out of reach: an unindented line over an
    indented first line, and a program of blank lines only; no Python program needs either.)
    """
    p = 0
    while p < min(len(current), len(target)) and current[p] == target[p]:
        p += 1
    s = 0
    while s < min(len(current), len(target)) - p and current[-1 - s] == target[-1 - s]:
        s += 1
    lo, hi, hi_target = p, len(current) - s, len(target) - s
    if hi == lo:  # nothing replaced: an insertion (or no change at all)
        if lo > 0:
            lo -= 1
        else:
            hi, hi_target = hi + 1, hi_target + 1
    while True:
        block = target[lo:hi_target]
        blank = bool(block) and not any(ln.strip() for ln in block)  # would be taken for a deletion
        if lo > 0 and (blank or _would_shift(block, current[lo]) or (not block and hi - lo > 5)):
            lo -= 1
        elif blank and hi < len(current) and hi_target < len(target):
            hi, hi_target = hi + 1, hi_target + 1
        else:
            break
    block = target[lo:hi_target]
    text = "\n".join(block) + ("\n" if block and block[-1] == "" else "")  # one trailing newline is dropped
    return CodeAction(action_type="REPLACE_LINES", start_line=lo + 1, end_line=hi, new_code_block=text,
                      thought=thought)


# ---------------------------------------------------------------------------------------------
# The agent


@dataclass(frozen=True)
class RepairConfig:
    """Knobs of :class:`RepairAgent`."""

    trace_failing: int = 1
    """Failing tests traced at the start and after every kept edit."""
    trace_passing: int = 1
    """Passing tests traced at the start (spectrum-based localisation needs a contrast)."""
    reserve: int = 2
    """Steps kept back to put the best program back and submit."""
    commit_after: int = 3
    """An edit that makes more tests pass (and breaks none) is kept only after this many more
    candidates of the current ranking failed to do better: the whole repair is often just
    behind a partial one, and a kept partial repair cannot be undone."""


def _program(obs: Any) -> list[str]:
    return [obs.code_dict[k] for k in sorted(obs.code_dict, key=int)]


def _passing(obs: Any) -> frozenset[str]:
    return frozenset(r.test_name for r in obs.test_results if r.passed)


class RepairAgent:
    """The model-free repair baseline as a policy: ``act(observation) -> CodeAction``.

    One instance plays one episode: create a new one per episode (``act`` on the first
    observation after ``reset``). Deterministic: the same observations give the same actions.
    """

    name = "repair"

    def __init__(self, config: RepairConfig | None = None) -> None:
        self.config = config or RepairConfig()
        self._script: Generator[CodeAction, Any, None] | None = None
        self.tried = 0
        """Candidate edits tried so far in this episode."""

    def act(self, observation: Any) -> CodeAction:
        """The next action, given the observation the previous one produced."""
        try:
            if self._script is None:
                self._script = self._episode(observation)
                return next(self._script)
            return self._script.send(observation)
        except StopIteration:
            return CodeAction(action_type="SUBMIT", thought="Nothing left to try.")

    def _episode(self, obs: Any) -> Generator[CodeAction, Any, None]:
        cfg = self.config
        obs = yield CodeAction(action_type="RUN_TESTS", thought="See which visible tests fail, and how.")
        best, best_passing = _program(obs), _passing(obs)
        total = len(obs.test_results)
        if total and len(best_passing) == total:
            yield CodeAction(action_type="SUBMIT", thought="Every visible test passes already.")
            return
        evidence = yield from self._localise(obs, best, first=True)
        current = best
        tried: set[str | None] = {normalized("\n".join(best) + "\n")}
        queue = self._candidates(best, evidence)
        partial: tuple[list[str], frozenset[str], Any] | None = None  # best improvement not yet kept
        since = 0  # candidates tried since ``partial`` was found
        while obs.steps_remaining > cfg.reserve + 1:
            if partial is not None and (since >= cfg.commit_after or not queue) \
                    and obs.steps_remaining > cfg.reserve + 3:
                best, best_passing, results = partial  # keep it; localise what still fails
                partial = None
                if current != best:
                    obs = yield edit_action(current, best, thought="Keep the edit that made more tests pass.")
                    current = _program(obs)
                evidence = yield from self._localise(obs, best, first=False, results=results)
                queue = self._candidates(best, evidence)
            if not queue:
                break
            edit = queue.pop(0)
            source = edit.build()
            key = normalized(source) if source is not None else None
            if key is None or key in tried:
                continue
            tried.add(key)
            self.tried += 1
            obs = yield edit_action(current, source.splitlines(),  # type: ignore[union-attr]
                                    thought=f"Try {edit.kind} at line {edit.line}: {edit.note}.")
            if obs.last_action_error:
                continue  # refused: the program is unchanged
            current = _program(obs)
            obs = yield CodeAction(action_type="RUN_TESTS", thought="Does the edit help?")
            passing = _passing(obs)
            if len(passing) == total:
                yield CodeAction(action_type="SUBMIT", thought="Every visible test passes: submit.")
                return
            since += 1
            if passing > (partial[1] if partial else best_passing):
                partial, since = (current, passing, obs.test_results), 0
        if current != best:
            yield edit_action(current, best, thought="Put the best program found back.")
        yield CodeAction(action_type="SUBMIT", thought="Out of candidates or budget: submit the best program.")

    def _localise(self, obs: Any, program: list[str], *, first: bool,
                  results: Any = None) -> Generator[CodeAction, Any, Evidence]:
        """TRACE failing (and, the first time, passing) tests of ``program``; ``results`` are its
        test results (default: the observation's)."""
        results = obs.test_results if results is None else results
        evidence = Evidence(n_lines=len(program), symptoms=symptoms(results))
        for r in results:
            if not r.passed and r.line:
                evidence.raised.add(r.line)
        failing = [r.test_name for r in results if not r.passed][: self.config.trace_failing]
        passing = [r.test_name for r in results if r.passed][: self.config.trace_passing if first else 0]
        for name, fails in [(n, True) for n in failing] + [(n, False) for n in passing]:
            if obs.steps_remaining <= self.config.reserve + 3:
                break
            obs = yield CodeAction(action_type="TRACE", test_name=name,
                                   thought=f"Which lines does {'failing' if fails else 'passing'} test {name} run?")
            if not obs.last_action_error:
                evidence.add_trace(obs.last_execution_output, failing=fails)
        return evidence

    @staticmethod
    def _candidates(program: list[str], evidence: Evidence) -> list[Candidate]:
        return rank(candidate_edits("\n".join(program) + "\n"), evidence)
