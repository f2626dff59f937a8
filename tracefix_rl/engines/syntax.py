"""Syntax checks of program text, memoised by text and shared by every buffer and session."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tracefix_rl.core import _ast

__all__ = ["SyntaxReport", "cached_syntax", "check_syntax", "parsed_tree"]


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
        tree = _ast.parse(source)
    except SyntaxError as exc:
        return SyntaxReport(False, f"{exc.msg} (line {exc.lineno})", exc.lineno), None
    except (ValueError, MemoryError, RecursionError) as exc:
        return SyntaxReport(False, f"{type(exc).__name__}: {exc}", None), None
    return SyntaxReport(True), tree


# check_syntax is a pure function of the text and parsing is most of a cheap step's cost (~60 us
# for a 12-line program on CPython 3.11), so reports are shared by text across buffers and
# sessions: UNDO_EDIT / RESET_TO_ORIGINAL return to a text that was already parsed, and every
# session of a task starts from the same program. MemoryError reports are transient: not kept.
_SYNTAX_CACHE: OrderedDict[str, SyntaxReport] = OrderedDict()
_SYNTAX_CACHE_SIZE = 256
_SYNTAX_LOCK = threading.Lock()
# The trees of the last few programs parsed by cached_syntax, for the trajectory recorder's
# security flags (tracefix_rl.engines.flags), which would otherwise parse the same text
# again on every edit. Shared, so read-only: the flag scan only walks them.
_TREES: OrderedDict[str, Any] = OrderedDict()
_TREES_SIZE = 4


def parsed_tree(source: str) -> Any:
    """The ``ast.Module`` of ``source`` if :func:`cached_syntax` parsed it recently, else ``None``.

    The tree is shared: callers must not modify it.
    """
    with _SYNTAX_LOCK:
        return _TREES.get(source)


def cached_syntax(source: str) -> SyntaxReport:
    """:func:`check_syntax` of ``source``, memoised by text (LRU of 256 programs, thread-safe)."""
    with _SYNTAX_LOCK:
        report = _SYNTAX_CACHE.get(source)
        if report is not None:
            _SYNTAX_CACHE.move_to_end(source)
            return report
    report, tree = _check(source)
    if tree is not None:
        with _SYNTAX_LOCK:
            _TREES[source] = tree
            while len(_TREES) > _TREES_SIZE:
                _TREES.popitem(last=False)
    if report.ok or report.line is not None or not (report.message or "").startswith("MemoryError"):
        with _SYNTAX_LOCK:
            _SYNTAX_CACHE[source] = report
            while len(_SYNTAX_CACHE) > _SYNTAX_CACHE_SIZE:
                _SYNTAX_CACHE.popitem(last=False)
    return report
