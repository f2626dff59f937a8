"""The executor contract: what a job is, how it ends, and the one-method interface.

Every piece of agent-controlled code (test runs, traces, grading) runs through a
:class:`Sandbox`. A job names a *driver* (trusted code that the sandbox child imports, see
:data:`DRIVERS`), a JSON-able payload for it, and :class:`Limits`. The driver runs in the
isolated child, streams JSON-able records back over a private channel with ``emit``, and the
sandbox returns an :class:`Execution` that says how the job ended. Nothing is ever parsed from
the program's own stdout.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tracefix_rl.core.config import Limits

__all__ = [
    "DRIVERS",
    "Execution",
    "Limits",
    "Outcome",
    "Sandbox",
]

#: The directory holding the ``tracefix_rl`` package: put on ``sys.path`` by every interpreter
#: an executor starts (fork-servers, probes and per-job subprocesses run with ``-S -s``).
PACKAGE_PARENT: str = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

#: Drivers a job may name, as ``module:function``. Each function has the signature
#: ``run(payload: dict, emit: Callable[[dict], None]) -> None`` and runs inside the child.
DRIVERS: dict[str, str] = {
    "tests": "tracefix_rl.engines.sandbox._driver_tests:run",
    "trace": "tracefix_rl.engines.trace._driver:run",
}


class Outcome(str, enum.Enum):  # noqa: UP042 - keep str() and format() behaviour stable
    """How a sandbox job ended, independently of what the tests said.

    ``OK`` means the driver ran to completion; test pass/fail lives in the records.
    ``INFRA_ERROR`` is a fault of the sandbox itself (fork, pipe, start-up) and must never be
    scored as a pass or a failure.
    """

    OK = "ok"
    TIMEOUT = "timeout"  # wall-clock deadline hit, killed by the parent
    CPU_LIMIT = "cpu_limit"  # RLIMIT_CPU exceeded (SIGXCPU / SIGKILL)
    MEMORY = "memory"  # address-space limit hit (MemoryError escaped or kill)
    OUTPUT_LIMIT = "output_limit"  # file-size or captured-output cap exceeded
    EXITED = "exited"  # the program ended the process early (sys.exit, os._exit, BaseException)
    CRASHED = "crashed"  # killed by a signal (segfault, abort, ...)
    INFRA_ERROR = "infra_error"


@dataclass
class Execution:
    """The result of one sandbox job.

    ``records`` are the JSON-able dicts the driver emitted, in order, even when the job was
    killed part-way (so the tests that finished before a timeout are still known).
    """

    outcome: Outcome
    records: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: float = 0.0
    """Wall-clock time of the whole call, including ``queued_ms``."""
    queued_ms: float = 0.0
    """Time spent waiting for a free worker before the job started."""
    exit_code: int | None = None
    signal: int | None = None
    detail: str = ""
    isolation: str = ""
    protocol_error: str = ""
    """Set when what came back over the record channel broke the harness protocol (a line that
    is not a JSON object, NaN, nesting, too many or too large records): ``records`` then holds
    only the records before the violation. Only the program can cause this (it shares the
    process with the driver), so it is graded as a failure of the program, never as an
    infrastructure error."""


@runtime_checkable
class Sandbox(Protocol):
    """Runs one trusted driver over untrusted payload code in isolation.

    Implementations must be safe to call from many threads at once, must never raise for
    anything the job's code does (that is an :class:`Outcome`), and raise
    :class:`tracefix_rl.core.errors.SandboxError` only for misuse (unknown driver, closed sandbox).
    Everything a job sends back is untrusted: records arrive only as JSON objects within the
    :class:`Limits` caps, and a violation is reported in :attr:`Execution.protocol_error`.
    """

    @property
    def isolation(self) -> str:
        """Name of the active isolation level, e.g. ``"forkserver+landlock+seccomp+uid+ns"``."""
        ...

    def execute(self, driver: str, payload: dict[str, Any], limits: Limits, *,
                owner: str | None = None) -> Execution:
        """Run ``driver`` on ``payload`` under ``limits`` and report how it ended.

        ``owner`` names who the job is for (the environment passes one id per environment, i.e.
        per session). Executors that queue jobs serve owners fairly (an owner holding fewer
        workers, then one served less recently, goes first) and each owner's jobs first come,
        first served; ``None`` is one anonymous owner.
        """
        ...

    def close(self) -> None:
        """Release every process and directory the sandbox holds. Idempotent."""
        ...
