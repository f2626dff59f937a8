"""Canonical text encoding of test values, shared by the sandbox child and the grader.

A test passes when the canonical encoding of what the program returned equals the canonical
encoding of the expected value. The encoding is computed inside the sandbox for the actual
value and in the environment process for the expected value, so both sides must use this one
function. It is deliberately stricter than ``==`` in one way (``True`` and ``1`` differ, as do
``1`` and ``1.0``) and as loose as ``==`` where Python's equality ignores order (dict items,
set elements), so a correct program never fails because of hash-seed dependent ordering.
"""

from __future__ import annotations

import math
import re

__all__ = ["canonical", "display", "values_match"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 50


def canonical(value: object, _depth: int = 0) -> str:
    """Return an order-insensitive, type-strict text encoding of ``value``.

    Builtin scalars encode as their ``repr``; lists and tuples element-wise; dicts as their
    items sorted by encoded key; sets as sorted encoded elements. Any other object encodes as
    ``<module.QualName>`` followed by its address-free ``repr``, so two objects are equal only
    if their types and reprs are.

    >>> canonical({2: "b", 1: "a"}) == canonical({1: "a", 2: "b"})
    True
    >>> canonical(True) == canonical(1)
    False
    """
    if _depth > _MAX_DEPTH:
        return "<too deep>"
    t = type(value)
    if value is None or t is bool or t is int or t is str or t is bytes:
        return repr(value)
    if t is float:
        return repr(value)
    if t is list:
        return "[" + ", ".join(canonical(v, _depth + 1) for v in value) + "]"  # type: ignore[attr-defined]
    if t is tuple:
        items = [canonical(v, _depth + 1) for v in value]  # type: ignore[attr-defined]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if t is dict:
        pairs = sorted(
            (canonical(k, _depth + 1), canonical(v, _depth + 1))
            for k, v in value.items()  # type: ignore[attr-defined]
        )
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if t is set or t is frozenset:
        items = sorted(canonical(v, _depth + 1) for v in value)  # type: ignore[attr-defined]
        body = "{" + ", ".join(items) + "}"
        if t is frozenset:
            return f"frozenset({body})" if items else "frozenset()"
        return body if items else "set()"
    try:
        text = repr(value)
    except Exception:  # a hostile or broken __repr__ must not crash the harness
        text = "<unrepr>"
    return f"<{t.__module__}.{t.__qualname__}>{_ADDRESS.sub('', text)}"


def display(value: object, limit: int = 300) -> str:
    """Return a short, address-free ``repr`` of ``value`` for showing to the agent."""
    try:
        text = _ADDRESS.sub("", repr(value))
    except Exception:
        text = "<unrepr>"
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more chars]"
    return text


def _numbers_close(a: object, b: object, rel_tol: float, abs_tol: float) -> bool:
    if type(a) in (int, float) and type(b) in (int, float):
        try:
            return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)  # type: ignore[arg-type]
        except OverflowError:  # an int beyond the float range: only an exactly equal value matches
            return a == b
    if type(a) is type(b) and type(a) in (list, tuple):
        return len(a) == len(b) and all(  # type: ignore[arg-type]
            _numbers_close(x, y, rel_tol, abs_tol) for x, y in zip(a, b, strict=True)  # type: ignore[call-overload]
        )
    return canonical(a) == canonical(b)


def values_match(
    actual_canonical: str,
    expected: object,
    *,
    approx: bool = False,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-9,
) -> bool:
    """Decide whether an encoded actual value matches the expected Python value.

    With ``approx=True``, numbers (and lists/tuples of numbers) compare with
    :func:`math.isclose`; the actual encoding is parsed with :func:`ast.literal_eval`, and
    anything that does not parse falls back to exact comparison. Never raises, whatever the
    program returned: a value that cannot be compared (an int beyond the float range, absurd
    nesting, ...) matches only if it is exactly the expected one.
    """
    expected_canonical = canonical(expected)
    if not approx or actual_canonical == expected_canonical:
        return actual_canonical == expected_canonical
    from tracefix_rl.core.safe_ast import literal_eval

    try:
        actual = literal_eval(actual_canonical)
        return _numbers_close(actual, expected, rel_tol, abs_tol)
    except (ValueError, TypeError, SyntaxError, OverflowError, MemoryError, RecursionError):
        return False
