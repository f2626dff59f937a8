"""Thread-safe ``ast.parse`` and ``ast.literal_eval``.

On CPython 3.11, concurrent ``ast.parse`` calls in one process can fail with ``SystemError:
AST constructor recursion depth mismatch`` (gh-106905): the converter's depth counter is shared.
The environment parses from many session threads at once (syntax checks, expected values,
security flags), so every parse in the package goes through this one process-wide lock.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

__all__ = ["literal_eval", "parse"]

_LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> Any:
    """:func:`ast.parse` under the process-wide lock."""
    with _LOCK:
        return ast.parse(source, filename, mode)


def literal_eval(text: str) -> Any:
    """:func:`ast.literal_eval` of a string, parsed under the process-wide lock."""
    with _LOCK:
        tree = ast.parse(text.lstrip(" \t"), mode="eval")
    return ast.literal_eval(tree)
