"""Isolated execution of agent code.

Public surface: the :class:`Sandbox` protocol, :class:`Limits`, :class:`Execution`,
:class:`Outcome`, :func:`get_sandbox`, which returns the strongest executor this machine
supports, and :func:`describe_isolation`, which says what the kernel offers and what was chosen.

Selection (first that works): the fork-server pool with Landlock + seccomp (plus a per-slot
uid when root, and private namespaces with an empty root where the kernel allows them). There is no silent downgrade: without Landlock and seccomp,
:func:`get_sandbox` raises :class:`~tracefix_rl.core.errors.SandboxStartError` unless unconfined
execution was explicitly allowed, with ``allow_unsandboxed=True`` or the environment variable
``TRACEFIX_ALLOW_UNSANDBOXED=1``; then it uses :class:`SubprocessSandbox` and logs a warning.
``TRACEFIX_SANDBOX=subprocess`` forces that level (it still needs the opt-in).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from tracefix_rl.core.errors import SandboxStartError
from tracefix_rl.engines.sandbox._base import DRIVERS, Execution, Limits, Outcome, Sandbox

__all__ = [
    "DRIVERS",
    "ALLOW_UNSANDBOXED_ENV",
    "Execution",
    "Limits",
    "Outcome",
    "Sandbox",
    "default_workers",
    "describe_isolation",
    "get_sandbox",
    "reset_sandbox",
]

#: Environment variable that opts into running jobs with no confinement (development only).
ALLOW_UNSANDBOXED_ENV = "TRACEFIX_ALLOW_UNSANDBOXED"
_FORCE_ENV = "TRACEFIX_SANDBOX"

log = logging.getLogger("tracefix_rl.engines.sandbox")

_shared: Sandbox | None = None
_shared_pid = 0
_reasons: list[str] = []
_lock = threading.Lock()


def _opted_in(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(ALLOW_UNSANDBOXED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _create(allow_unsandboxed: bool | None, workers: int | None = None) -> tuple[Sandbox, list[str]]:
    reasons: list[str] = []
    forced = os.environ.get(_FORCE_ENV, "").strip().lower()
    if forced not in ("", "auto", "forkserver", "subprocess"):
        raise SandboxStartError(f"{_FORCE_ENV}={forced!r}: expected auto, forkserver or subprocess")
    if forced != "subprocess":
        from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

        try:
            pool = ForkServerSandbox(workers)
        except (SandboxStartError, OSError) as exc:
            reasons.append(f"fork-server did not start: {exc}")
        else:
            if pool.info.get("landlock_abi") and pool.info.get("seccomp"):
                return pool, reasons
            reasons.append(f"fork-server lacks Landlock or seccomp (landlock ABI "
                           f"{pool.info.get('landlock_abi')}, seccomp {pool.info.get('seccomp')})")
            pool.close()
        if forced == "forkserver":
            raise SandboxStartError("; ".join(reasons))
    else:
        reasons.append(f"{_FORCE_ENV}=subprocess")
    reasons.append("bubblewrap tier not implemented")
    if not _opted_in(allow_unsandboxed):
        raise SandboxStartError(
            "no isolated executor is available (" + "; ".join(reasons) + "). Set "
            f"{ALLOW_UNSANDBOXED_ENV}=1 to run agent code WITHOUT confinement (development only)."
        )
    from tracefix_rl.engines.sandbox._subprocess import SubprocessSandbox

    log.warning("RUNNING AGENT CODE WITHOUT A SANDBOX (isolation 'subprocess': rlimits only) because "
                "%s=1 / allow_unsandboxed=True; reasons: %s", ALLOW_UNSANDBOXED_ENV, "; ".join(reasons))
    return SubprocessSandbox(), reasons


def get_sandbox(*, allow_unsandboxed: bool | None = None, workers: int | None = None) -> Sandbox:
    """Return the process-wide shared sandbox, creating it on first use (thread-safe).

    ``workers`` sizes the fork-server pool when this call creates it (default: one per core
    plus spares); a process that hosts sessions on a share of a machine passes its share.

    The strongest available executor is chosen (see the module docstring) and logged once on
    the ``tracefix_rl.engines.sandbox`` logger. ``allow_unsandboxed`` (default: the
    ``TRACEFIX_ALLOW_UNSANDBOXED`` environment variable) permits the unconfined fallback.
    Raises :class:`~tracefix_rl.core.errors.SandboxStartError` when nothing acceptable is available.
    """
    global _shared, _shared_pid, _reasons
    with _lock:
        if _shared is None or _shared_pid != os.getpid():  # a forked copy must not share pipes
            _shared, _reasons = _create(allow_unsandboxed, workers)
            _shared_pid = os.getpid()
            atexit.register(reset_sandbox)
            log.info("sandbox isolation level: %s", _shared.isolation)
        return _shared


def reset_sandbox() -> None:
    """Close the shared sandbox, if any; the next :func:`get_sandbox` builds a new one."""
    global _shared
    with _lock:
        sandbox, _shared = _shared, None
    if sandbox is not None:
        sandbox.close()


def describe_isolation() -> dict[str, Any]:
    """What the kernel offers and which isolation level is (or would be) used.

    Keys: ``root``, ``landlock_abi``, ``seccomp``, ``userns`` (max user namespaces, or
    ``None`` if unknown), ``bwrap`` (path or ``None``), ``level`` (the active level, or
    ``None`` if no sandbox has been created yet), ``unsandboxed_allowed``, ``reasons`` (why
    stronger levels were skipped) and, once the fork-server pool runs, ``forkserver`` (its
    start-up report: slot uids, disk quota, preloaded modules, drivers).
    """
    import shutil

    from tracefix_rl.engines.sandbox._probe import probe_kernel

    info: dict[str, Any] = dict(probe_kernel())
    try:
        with open("/proc/sys/user/max_user_namespaces") as fh:
            info["userns"] = int(fh.read().strip())
    except (OSError, ValueError):
        info["userns"] = None
    info["bwrap"] = shutil.which("bwrap")
    info["unsandboxed_allowed"] = _opted_in(None)
    with _lock:
        sandbox = _shared
        info["reasons"] = list(_reasons)
    info["level"] = sandbox.isolation if sandbox is not None else None
    pool_info = getattr(sandbox, "info", None)
    if pool_info:
        info["forkserver"] = dict(pool_info)
    return info


def default_workers(cores: int | None = None) -> int:
    """Workers of a default fork-server pool for ``cores`` cores (see the fork-server's sizing rule)."""
    from tracefix_rl.engines.sandbox._forkserver import default_workers as _default_workers

    return _default_workers(cores)
