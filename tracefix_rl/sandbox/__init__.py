"""Isolated execution of agent code.

Public surface: the :class:`Sandbox` protocol, :class:`Limits`, :class:`Execution`,
:class:`Outcome`, and :func:`get_sandbox`, which returns the strongest executor this machine
supports.
"""

from __future__ import annotations

import threading

from tracefix_rl.sandbox._base import DRIVERS, Execution, Limits, Outcome, Sandbox

__all__ = ["DRIVERS", "Execution", "Limits", "Outcome", "Sandbox", "get_sandbox"]

_shared: Sandbox | None = None
_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    """Return the process-wide default sandbox, creating it on first use (thread-safe)."""
    global _shared
    with _lock:
        if _shared is None:
            from tracefix_rl.sandbox._subprocess import SubprocessSandbox

            _shared = SubprocessSandbox()
        return _shared
