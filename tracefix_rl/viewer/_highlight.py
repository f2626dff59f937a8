"""Python highlighting (Pygments) and unified-diff parsing, both producing escaped HTML.

Everything here treats its input as hostile text: Pygments escapes every token it emits and
:func:`diff_lines` escapes what it does not highlight, so the :class:`~markupsafe.Markup` it
returns is safe to put in a page as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

__all__ = ["DiffLine", "diff_lines", "highlight_lines", "pygments_css"]

_FORMATTER = HtmlFormatter(nowrap=True)
_LEXER = PythonLexer(stripnl=False, ensurenl=False)
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
#: Longest text highlighted; longer listings are shown plain (escaped), which is much faster.
_MAX_HIGHLIGHT_CHARS = 200_000


def highlight_lines(lines: list[str]) -> list[Markup]:
    """Each line of a Python fragment as highlighted, escaped HTML (one entry per input line)."""
    if not lines:
        return []
    text = "\n".join(lines)
    if len(text) > _MAX_HIGHLIGHT_CHARS:
        return [Markup(escape(line)) for line in lines]
    return _highlight(text, len(lines))


@lru_cache(maxsize=4096)
def _highlight(text: str, count: int) -> list[Markup]:
    out = highlight(text, _LEXER, _FORMATTER).split("\n")
    if len(out) < count:  # the formatter never merges lines, but never index past its output
        out += [""] * (count - len(out))
    return [Markup(line) for line in out[:count]]


@dataclass(frozen=True)
class DiffLine:
    """One displayed line of a diff: ``kind`` is ``add``, ``del``, ``ctx`` or ``hunk``."""

    kind: str
    old: int | None
    new: int | None
    html: Markup


def diff_lines(diff: str) -> list[DiffLine]:
    """A unified diff (as the environment records it) as numbered, highlighted lines.

    The ``---``/``+++`` header is dropped; each hunk header becomes a ``hunk`` line; removed,
    added and context lines keep their old and new line numbers.
    """
    raw = diff.splitlines()
    body = [ln for ln in raw if not (ln.startswith("--- ") or ln.startswith("+++ "))]
    code = [ln[1:] if ln[:1] in ("+", "-", " ") else "" for ln in body]
    highlighted = highlight_lines(code)
    out: list[DiffLine] = []
    old = new = 0
    for ln, html in zip(body, highlighted, strict=True):
        m = _HUNK.match(ln)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
            out.append(DiffLine("hunk", None, None, Markup(escape(ln))))
        elif ln.startswith("+"):
            out.append(DiffLine("add", None, new, html))
            new += 1
        elif ln.startswith("-"):
            out.append(DiffLine("del", old, None, html))
            old += 1
        elif ln.startswith(" "):
            out.append(DiffLine("ctx", old, new, html))
            old += 1
            new += 1
        else:  # "\ No newline at end of file" and anything unexpected: shown as it is
            out.append(DiffLine("hunk", None, None, Markup(escape(ln))))
    return out


def pygments_css() -> str:
    """The stylesheet of the highlighted tokens (scoped to ``.code``)."""
    return HtmlFormatter(style="default").get_style_defs(".code")
