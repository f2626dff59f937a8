"""Screening of untrusted JSON text (WebSocket messages and HTTP bodies) before anything else reads it.

:func:`parse_json` either returns the parsed value or raises :class:`FrameError` whose message
names the problem: too large, not UTF-8 JSON (with line and column), ``NaN``/``Infinity``, a
number out of range, nesting too deep, or a lone surrogate escape (``"\\ud800"``) in a string or
key, with the path to it (``data.thought``). Nothing that passes can make a later
``json.dumps(...).encode()`` or a SQLite write fail.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from tracefix_rl.env.reset_args import has_lone_surrogate

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "FrameError", "parse_json"]

#: Default cap of one WebSocket message or HTTP body (an action is at most ~40 KB of text).
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class FrameError(ValueError):
    """Untrusted JSON was refused: ``code`` (``INVALID_FRAME``, ``INVALID_JSON``) and a message."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _constant(name: str) -> Any:
    raise FrameError("INVALID_JSON", f"{name} is not valid JSON (numbers must be finite)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FrameError("INVALID_JSON", f"the number {text[:40]} is out of range (numbers must be finite)")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)  # built once: decoding is hot


def parse_json(text: str | bytes, *, limit: int = DEFAULT_MAX_MESSAGE_BYTES, what: str = "message") -> Any:
    """Parse ``text`` as strict JSON within ``limit`` bytes, or raise :class:`FrameError`."""
    size = len(text)
    if size > limit or (isinstance(text, str) and size > limit // 4 and len(text.encode("utf-8", "replace")) > limit):
        raise FrameError("INVALID_FRAME", f"the {what} is too large: more than the limit of {limit} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError("INVALID_JSON", f"the {what} is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise FrameError("INVALID_JSON", f"the {what} is empty; send a JSON object")
    try:
        value = _DECODER.decode(text)
    except FrameError:
        raise
    except json.JSONDecodeError as exc:
        raise FrameError("INVALID_JSON", f"the {what} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                         f"column {exc.colno}") from None
    except RecursionError:
        raise FrameError("INVALID_JSON", f"the {what} is nested too deeply to be read") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise FrameError("INVALID_JSON", f"the {what} holds a value that cannot be read: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        path = _surrogate_path(value)
        if path is not None:
            raise FrameError("INVALID_JSON", f"{path or what}: holds a lone surrogate escape such as \\ud800 "
                                             "(not valid Unicode text)", field=path or None)
    return value


def _surrogate_path(value: Any) -> str | None:
    """The dotted path of the first string or key holding a lone surrogate (``""`` for the root)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if has_lone_surrogate(node):
                return path
        elif isinstance(node, dict):
            for k, v in node.items():
                if has_lone_surrogate(k):
                    return f"{path}.{k.encode('utf-8', 'backslashreplace').decode()}".lstrip(".") + " (a key)"
                stack.append((f"{path}.{k}".lstrip("."), v))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(node))
    return None
