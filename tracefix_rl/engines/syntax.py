"""Syntax checks of program text, memoised by text and shared by every buffer and session.

Large programs are checked incrementally after an edit (:func:`check_edit`): only the top-level
statements the edit touched are parsed again, and the rest is known to parse from the previous
check. The result is the same as parsing the whole text (see :func:`check_edit` for why);
whenever that cannot be shown cheaply, the whole text is parsed.
"""

from __future__ import annotations

import ast
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tracefix_rl.core import safe_ast

__all__ = ["INCREMENTAL_MIN_LINES", "SyntaxReport", "cached_syntax", "check_edit", "check_syntax", "parsed_tree",
           "statement_spans"]

#: Programs shorter than this are always parsed whole (it takes well under a millisecond).
INCREMENTAL_MIN_LINES = 200


@dataclass(frozen=True)
class SyntaxReport:
    """The result of parsing the buffer: ``ok``, or the error message and its line."""

    ok: bool
    message: str | None = None
    line: int | None = None


def check_syntax(source: str) -> SyntaxReport:
    """Parse ``source`` and report the first syntax error, if any."""
    return _check(source)[0]


def _check(source: str) -> tuple[SyntaxReport, Any]:
    try:
        tree = safe_ast.parse(source)
    except SyntaxError as exc:
        return SyntaxReport(False, f"{exc.msg} (line {exc.lineno})", exc.lineno), None
    except (ValueError, MemoryError, RecursionError) as exc:
        return SyntaxReport(False, f"{type(exc).__name__}: {exc}", None), None
    return SyntaxReport(True), tree


_OK = SyntaxReport(True)
# check_syntax is a pure function of the text and parsing is most of a cheap step's cost (~60 us
# for a 12-line program on CPython 3.11), so reports are shared by text across buffers and
# sessions: UNDO_EDIT / RESET_TO_ORIGINAL return to a text that was already parsed, and every
# session of a task starts from the same program. MemoryError reports are transient: not kept.
# A program that parses and has at least INCREMENTAL_MIN_LINES lines also keeps its top-level
# statement spans (what check_edit needs), flattened into an int array.
_SYNTAX_CACHE: OrderedDict[str, tuple[SyntaxReport, array[int] | None]] = OrderedDict()
_SYNTAX_CACHE_SIZE = 256
_SYNTAX_LOCK = threading.Lock()
# The trees of the last few programs parsed by cached_syntax or check_edit, for the trajectory
# recorder's security flags (tracefix_rl.engines.flags), which would otherwise parse the same
# text again on every edit. Shared, so read-only: the flag scan only walks them. Each entry says
# which lines its tree covers: the whole program, or (after check_edit) the statements re-parsed.
_TREES: OrderedDict[str, tuple[Any, int, int]] = OrderedDict()
_TREES_SIZE = 4
_ALL_LINES = 2**62


def parsed_tree(source: str, first_line: int = 1, last_line: int = 1) -> Any:
    """An ``ast.Module`` for ``source`` holding at least every top-level statement that overlaps
    lines ``first_line..last_line``, with ``source``'s line numbers, if :func:`cached_syntax` or
    :func:`check_edit` parsed it recently; else ``None``.

    The tree is shared: callers must not modify it.
    """
    with _SYNTAX_LOCK:
        entry = _TREES.get(source)
    if entry is None or not entry[1] <= first_line or last_line > entry[2]:
        return None
    return entry[0]


def _keep_tree(source: str, tree: Any, lo: int, hi: int) -> None:
    with _SYNTAX_LOCK:
        _TREES[source] = (tree, lo, hi)
        _TREES.move_to_end(source)
        while len(_TREES) > _TREES_SIZE:
            _TREES.popitem(last=False)


def _keep_report(source: str, report: SyntaxReport, spans: array[int] | None) -> None:
    with _SYNTAX_LOCK:
        _SYNTAX_CACHE[source] = (report, spans)
        _SYNTAX_CACHE.move_to_end(source)
        while len(_SYNTAX_CACHE) > _SYNTAX_CACHE_SIZE:
            _SYNTAX_CACHE.popitem(last=False)


def _spans_of(body: list[Any], offset: int = 0) -> array[int]:
    out = array("i")
    for stmt in body:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        out.append(first + offset)
        out.append(stmt.end_lineno + offset)
    return out


def cached_syntax(source: str) -> SyntaxReport:
    """:func:`check_syntax` of ``source``, memoised by text (LRU of 256 programs, thread-safe)."""
    with _SYNTAX_LOCK:
        hit = _SYNTAX_CACHE.get(source)
        if hit is not None:
            _SYNTAX_CACHE.move_to_end(source)
            return hit[0]
    report, tree = _check(source)
    spans = None
    if tree is not None:
        _keep_tree(source, tree, 1, _ALL_LINES)
        if "\r" not in source and source.count("\n") >= INCREMENTAL_MIN_LINES:
            spans = _spans_of(tree.body)
    if report.ok or report.line is not None or not (report.message or "").startswith("MemoryError"):
        _keep_report(source, report, spans)
    return report


def statement_spans(source: str) -> array[int] | None:
    """The top-level statements' line spans of ``source`` (first and last line of each, flattened,
    decorators included) if it was checked and parses and is large enough to check incrementally;
    else ``None``."""
    with _SYNTAX_LOCK:
        hit = _SYNTAX_CACHE.get(source)
    return hit[1] if hit is not None else None


def check_edit(before: str, before_lines: list[str], after_lines: list[str], start: int, end: int,
               new_count: int) -> SyntaxReport:
    """:func:`cached_syntax` of the program after one edit, parsing only what the edit touched.

    ``before_lines`` became ``after_lines`` by replacing lines ``start..end`` (1-based, ``end``
    clipped to the program; ``end == start - 1`` for an insertion) with ``new_count`` lines.
    ``before`` is the text of ``before_lines`` (``"\\n".join(...) + "\\n"``). When ``before``
    parsed, the new text is the old top-level statements before the edit, a region, and the old
    top-level statements after it, and the region starts and ends at top level (column 0, no open
    bracket, string or line continuation). Such a concatenation parses exactly when the region
    parses on its own, so only the region is parsed. Everything else -- ``before`` not known to
    parse, a region that does not parse (the error must be reported as a whole parse reports
    it), a line continuation at a boundary, carriage returns, ``__future__`` imports (which
    change the grammar) -- falls back to parsing the whole text.
    """
    after = "\n".join(after_lines) + "\n" if after_lines else ""
    with _SYNTAX_LOCK:
        hit = _SYNTAX_CACHE.get(after)
        if hit is not None:
            _SYNTAX_CACHE.move_to_end(after)
            return hit[0]
    spans = statement_spans(before)
    if spans is None or "__future__" in after or "\r" in after:
        return cached_syntax(after)
    region = _region(spans, before_lines, after_lines, start, end, new_count)
    if region is None:
        return cached_syntax(after)
    lo, hi_after = region[0], region[1]
    chunk = "\n".join(after_lines[lo - 1: hi_after]) + "\n"
    report, tree = _check(chunk)
    if tree is None:
        return cached_syntax(after)
    n_prefix, first_next, delta = region[3], region[2], region[4]
    merged = spans[: 2 * n_prefix]
    merged.extend(_spans_of(tree.body, lo - 1))
    merged.extend(v + delta for v in spans[2 * first_next:])
    ast.increment_lineno(tree, lo - 1)
    _keep_tree(after, tree, lo, hi_after)
    _keep_report(after, report, merged)
    return report


def _region(spans: array[int], before_lines: list[str], after_lines: list[str], start: int, end: int,
            new_count: int) -> tuple[int, int, int, int, int] | None:
    """The lines to re-parse: ``(first, last)`` in the new text, the index of the first statement
    after them, how many statements precede them, and the line shift of the statements after."""
    n_old = len(before_lines)
    hi = min(end, n_old)
    delta = new_count - (hi - start + 1)
    lo_r, hi_r = start, max(hi, start - 1)
    n_stmts = len(spans) // 2
    while True:  # grow the region until no statement straddles its edges (statements may share a line)
        grown = False
        for k in range(n_stmts):
            s, e = spans[2 * k], spans[2 * k + 1]
            if s > hi_r:
                break
            if e >= lo_r and s <= hi_r:
                if s < lo_r or e > hi_r:
                    lo_r, hi_r, grown = min(lo_r, s), max(hi_r, e), True
        if not grown:
            break
    n_prefix = 0
    while n_prefix < n_stmts and spans[2 * n_prefix + 1] < lo_r:
        n_prefix += 1
    first_next = n_prefix
    while first_next < n_stmts and spans[2 * first_next] <= max(hi_r, lo_r - 1):
        first_next += 1
    prefix_end = spans[2 * n_prefix - 1] if n_prefix else 0
    next_start = spans[2 * first_next] if first_next < n_stmts else n_old + 1
    if prefix_end and before_lines[prefix_end - 1].rstrip().endswith("\\"):
        return None
    last = next_start - 1 + delta
    if last >= prefix_end + 1 and after_lines[last - 1].rstrip().endswith("\\"):
        return None
    return prefix_end + 1, last, first_next, n_prefix, delta
