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

__all__ = [
    "DRIVERS",
    "Execution",
    "Limits",
    "Outcome",
    "Sandbox",
]

#: The directory holding the ``tracefix_rl`` package: put on ``sys.path`` by every interpreter
#: an executor starts (fork-servers, probes and per-job subprocesses run with ``-S -s``).
PACKAGE_PARENT: str = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Drivers a job may name, as ``module:function``. Each function has the signature
#: ``run(payload: dict, emit: Callable[[dict], None]) -> None`` and runs inside the child.
DRIVERS: dict[str, str] = {
    "tests": "tracefix_rl.sandbox._driver_tests:run",
    "trace": "tracefix_rl.trace._driver:run",
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


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job. All are enforced by the sandbox, never by the driver."""

    wall_s: float = 5.0
    """Wall-clock deadline for the whole job; the parent kills the process group at expiry."""
    cpu_s: int = 5
    """RLIMIT_CPU, in seconds."""
    memory_mb: int = 1024
    """RLIMIT_AS, in MiB."""
    fsize_mb: int = 16
    """RLIMIT_FSIZE, in MiB: the largest file the job may write."""
    nofile: int = 256
    """RLIMIT_NOFILE."""
    nproc: int = 64
    """RLIMIT_NPROC (only meaningful when jobs run under a per-slot uid)."""
    output_bytes: int = 65536
    """Cap on captured stdout and on stderr, each; the tail is kept."""
    per_test_s: float = 2.0
    """Cooperative per-test timeout applied by the test driver (the wall clock is the backstop)."""
    record_bytes: int = 4 << 20
    """Cap on the bytes of records a job may send back, enforced while reading: beyond it the
    job is killed (``output_limit``). At most 16 MiB."""
    max_records: int = 10_000
    """Cap on the number of records a job may send back, enforced while reading: beyond it the
    job is killed and the program is said to have broken the harness protocol."""
    nice_after_s: float = 0.1
    """After this much wall-clock time a job runs at the lowest CPU priority (nice 19), so that
    long-running or spinning jobs cannot slow down short ones. ``0`` disables it."""

    def to_dict(self) -> dict[str, Any]:
        """Return the limits as a plain dict (recorded in trajectory manifests)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


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
    :class:`tracefix_rl.errors.SandboxError` only for misuse (unknown driver, closed sandbox).
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
