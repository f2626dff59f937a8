"""What ``reset`` accepts: the one home of the argument rules (the server's wire model uses them too).

:func:`check_reset_args` runs before ``reset`` changes anything, so a rejected reset leaves the
previous episode exactly as it was. Every rejection is a
:class:`~tracefix_rl.core.errors.ResetArgumentError` whose ``field`` names the argument.
"""

from __future__ import annotations

import re
from typing import Any

from tracefix_rl.core.errors import ResetArgumentError, UnknownArgumentError

__all__ = ["DIFFICULTIES", "EPISODE_ID_PATTERN", "MAX_NAME_CHARS", "MAX_VARIANT", "SEED_LIMIT", "check_reset_args",
           "has_lone_surrogate"]

#: Seeds are integers in ``[0, SEED_LIMIT)`` (they are stored as SQLite 64-bit integers).
SEED_LIMIT = 2**63
#: The highest ``variant`` a reset may ask for. Variant ``k`` costs up to a few sandbox
#: validations per ``k`` the first time a process builds it, so the bound keeps a reset cheap.
MAX_VARIANT = 16
#: Episode ids: 1-128 characters, letters, digits and ``._:@-``, not starting with punctuation.
EPISODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
#: Longest task name (or alias, or task pack path) accepted.
MAX_NAME_CHARS = 512
DIFFICULTIES = ("easy", "medium", "hard")

_EPISODE_ID = re.compile(EPISODE_ID_PATTERN)


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a UTF-16 surrogate code point (so it is not encodable as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text(field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ResetArgumentError(field, f"must be a string, got {type(value).__name__}")
    if not value or len(value) > MAX_NAME_CHARS:
        raise ResetArgumentError(field, f"must be 1 to {MAX_NAME_CHARS} characters long, got {len(value)}")
    if has_lone_surrogate(value) or "\x00" in value:
        raise ResetArgumentError(field, "holds a lone surrogate or NUL character (not valid UTF-8 text)")


def _integer(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResetArgumentError(field, f"must be an integer, got {type(value).__name__} {value!r:.40}")
    if not low <= value <= high:
        raise ResetArgumentError(field, f"must be from {low} to {high}, got {value}")


def check_reset_args(*, task_name: Any = None, difficulty: Any = None, seed: Any = None, variant: Any = None,
                     episode_id: Any = None, task_pack: Any = None, unknown: dict[str, Any] | None = None) -> None:
    """Raise :class:`ResetArgumentError` (naming the field) unless every argument is acceptable.

    ``None`` always means "not given". Checked: types (a ``bool`` is not an integer), ranges
    (``0 <= seed < SEED_LIMIT``, ``0 <= variant <= MAX_VARIANT``), ``difficulty`` in
    :data:`DIFFICULTIES`, ``episode_id`` against :data:`EPISODE_ID_PATTERN`, names and paths
    free of lone surrogates and NUL, and no unknown keyword (:class:`UnknownArgumentError`).
    Whether a task or pack exists is the task source's business and is checked by ``reset``.
    """
    if unknown:
        name = sorted(unknown)[0]
        known = "task_name, difficulty, seed, variant, episode_id, task_pack"
        raise UnknownArgumentError(name, f"reset() got an unexpected keyword argument (it accepts {known})")
    if task_name is not None:
        _text("task_name", task_name)
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ResetArgumentError("difficulty", f"must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r:.40}")
    if seed is not None:
        _integer("seed", seed, 0, SEED_LIMIT - 1)
    if variant is not None:
        _integer("variant", variant, 0, MAX_VARIANT)
    if episode_id is not None:
        if not isinstance(episode_id, str) or not _EPISODE_ID.match(episode_id):
            shown = episode_id if isinstance(episode_id, str) and not has_lone_surrogate(episode_id) \
                else type(episode_id).__name__
            raise ResetArgumentError("episode_id", "must be 1-128 characters of letters, digits and ._:@- "
                                                   f"starting with a letter or digit, got {shown!r:.60}")
    if task_pack is not None:
        _text("task_pack", task_pack)
