"""The program buffer: line-addressed replacement, auto-indent, unlimited undo, reset."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tracefix_rl.engines.syntax import (
    INCREMENTAL_MIN_LINES,
    SyntaxReport,
    cached_syntax,
    check_edit,
    check_syntax,
)

T = TypeVar("T")

__all__ = ["Buffer", "SyntaxReport", "cached_syntax", "check_syntax", "reindent_block"]


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def reindent_block(block: str, base_indent: str) -> list[str]:
    """Return the lines of ``block`` placed at ``base_indent``.

    If the block's first non-blank line has no leading whitespace, every line is shifted so the
    first line sits at ``base_indent`` and relative indentation is kept (the original
    TraceFix-RL rule). If the first line is already indented, the block is taken exactly as
    given, so a fix may change a line's indentation (e.g. dedent a ``return`` out of a loop).

    >>> reindent_block("if x:\\n    y()", "        ")
    ['        if x:', '            y()']
    >>> reindent_block("    return r", "        ")
    ['    return r']
    """
    lines = block.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a trailing newline does not add an empty line
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None or _indent_of(first):
        return [ln.rstrip() for ln in lines]
    out = []
    for ln in lines:
        out.append(base_indent + ln.rstrip() if ln.strip() else "")
    return out


class Buffer:
    """The agent's working copy of the program, with an undo history."""

    def __init__(self, original: str) -> None:
        self._original = original.splitlines()
        self._lines = list(self._original)
        self._history: list[list[str]] = []
        self._cache: dict[str, object] = {}
        # The last edit, while its syntax is unchecked: (text before, lines before, start, end, new count).
        self._edit: tuple[str, list[str], int, int, int] | None = None

    def _changed(self) -> None:
        self._cache.clear()
        self._edit = None

    def checkpoint(self) -> tuple[list[str], list[list[str]], dict[str, object]]:
        """A cheap copy of the buffer's state (history entries are never mutated, so they are shared)."""
        return list(self._lines), list(self._history), dict(self._cache)

    def restore(self, checkpoint: tuple[list[str], list[list[str]], dict[str, object]]) -> None:
        """Return to the state of :meth:`checkpoint` (used when a step must be undone as a whole)."""
        lines, history, cache = checkpoint
        self._lines, self._history, self._cache = list(lines), list(history), dict(cache)
        self._edit = None

    @property
    def lines(self) -> list[str]:
        """Current lines (a copy)."""
        return list(self._lines)

    @property
    def source(self) -> str:
        """Current program text, newline-terminated."""
        src = self._cache.get("source")
        if src is None:
            src = self._cache["source"] = "\n".join(self._lines) + "\n" if self._lines else ""
        return src  # type: ignore[return-value]

    def syntax(self) -> SyntaxReport:
        """:func:`check_syntax` of the current text, computed once per change."""
        report = self._cache.get("syntax")
        if report is None:
            edit = self._edit
            if edit is not None and len(self._lines) >= INCREMENTAL_MIN_LINES:
                before, before_lines, start, end, count = edit
                report = check_edit(before, before_lines, self._lines, start, end, count)
            else:
                report = cached_syntax(self.source)
            self._cache["syntax"] = report
            self._edit = None
        return report  # type: ignore[return-value]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Cache ``compute()`` until the buffer next changes (for renderings of the text)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[return-value]

    @property
    def line_count(self) -> int:
        """Number of lines in the buffer."""
        return len(self._lines)

    @property
    def undo_depth(self) -> int:
        """How many edits UNDO_EDIT can still revert."""
        return len(self._history)

    def as_dict(self) -> dict[int, str]:
        """Lines keyed by 1-based line number (the observation's ``code_dict``)."""
        return {i + 1: text for i, text in enumerate(self._lines)}

    def chars_outside(self, start: int, end: int) -> int:
        """Characters (newlines included) of the lines outside ``start..end``."""
        inside = sum(len(ln) + 1 for ln in self._lines[max(0, start - 1): max(0, end)])
        return len(self.source) - inside

    def range_error(self, start: int | None, end: int | None) -> str | None:
        """Why ``start..end`` is not a valid REPLACE_LINES range, or ``None`` if it is."""
        last = len(self._lines)
        if start is None or end is None:
            return "REPLACE_LINES needs both start_line and end_line (integers)."
        if start < 1:
            return f"start_line must be >= 1, got {start}."
        if start > end:
            return f"start_line ({start}) must be <= end_line ({end})."
        if end > last + 1:
            return f"end_line ({end}) is past the end: the file has {last} lines (use {last + 1} to append)."
        return None

    def replace(self, start: int, end: int, block: str) -> tuple[int, int]:
        """Replace lines ``start..end`` with ``block`` and return the new block's line span.

        The caller has checked the range with :meth:`range_error`. An empty block deletes the
        lines; the returned span is then ``(start, start - 1)``.
        """
        before = self.source
        before_lines = list(self._lines)
        self._history.append(before_lines)
        anchor = self._lines[start - 1] if start - 1 < len(self._lines) else ""
        new = reindent_block(block, _indent_of(anchor)) if block.strip() else []
        hi = min(end, len(self._lines))
        self._lines[start - 1 : hi] = new
        self._changed()
        self._edit = (before, before_lines, start, hi, len(new))
        return start, start + len(new) - 1

    def undo(self) -> bool:
        """Revert the last edit; ``False`` if there is nothing to undo."""
        if not self._history:
            return False
        self._lines = self._history.pop()
        self._changed()
        return True

    def reset(self) -> None:
        """Restore the original program and forget the history."""
        self._lines = list(self._original)
        self._history.clear()
        self._changed()
