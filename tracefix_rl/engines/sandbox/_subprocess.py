"""Fallback executor: one fresh interpreter per job, rlimits, new session, wall-clock kill.

This is isolation level ``subprocess`` (rlimits only, no filesystem or network confinement),
used only when unconfined execution is explicitly allowed. :func:`finish_execution`, which
classifies how a job ended, is shared with the fork-server pool.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from tracefix_rl.engines.sandbox._base import DRIVERS, PACKAGE_PARENT, Execution, Limits, Outcome
from tracefix_rl.engines.sandbox._records import parse_records

__all__ = ["SubprocessSandbox", "finish_execution", "job_environment", "with_limits"]

_BOOT = (
    "import sys, json, os\n"
    "sys.path.insert(0, {parent!r})\n"
    "from tracefix_rl.engines.sandbox._child import run_job\n"
    "job = json.loads(sys.stdin.buffer.read())\n"
    "run_job(job['driver'], job['payload'], {fd})\n"
)


def job_environment() -> dict[str, str]:
    """The complete, secret-free environment every job runs with (fixed seeds and locale)."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONHASHSEED": "0",
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "HOME": "/nonexistent",
    }


def with_limits(payload: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The payload as the driver sees it: ``per_test_s`` defaults to ``limits.per_test_s``."""
    if "per_test_s" in payload:
        return payload
    return {**payload, "per_test_s": limits.per_test_s}


def _set_limits(limits: Limits) -> None:
    def lim(which: int, value: int) -> None:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass

    resource.setrlimit(resource.RLIMIT_CPU, (int(limits.cpu_s), int(limits.cpu_s) + 1))
    lim(resource.RLIMIT_AS, limits.memory_mb << 20)
    lim(resource.RLIMIT_FSIZE, limits.fsize_mb << 20)
    lim(resource.RLIMIT_NOFILE, limits.nofile)
    lim(resource.RLIMIT_CORE, 0)


class SubprocessSandbox:
    """Runs each job in ``python -S -s`` with rlimits; no confinement beyond that."""

    isolation = "subprocess"

    def __init__(self) -> None:
        self._closed = False

    def execute(self, driver: str, payload: dict[str, Any], limits: Limits, *,
                owner: str | None = None) -> Execution:
        """Run one job; see :class:`tracefix_rl.engines.sandbox.Sandbox` (jobs are not queued here, so
        ``owner`` changes nothing)."""
        if driver not in DRIVERS:
            from tracefix_rl.core.errors import SandboxError

            raise SandboxError(f"unknown driver {driver!r}; known: {sorted(DRIVERS)}")
        started = time.perf_counter()
        rfd, wfd = os.pipe()
        workdir = tempfile.mkdtemp(prefix="tracefix-job-")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-s", "-c", _BOOT.format(parent=PACKAGE_PARENT, fd=wfd)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(wfd,), cwd=workdir, env=job_environment(), start_new_session=True,
                preexec_fn=lambda: _set_limits(limits),
            )
        except OSError as exc:
            os.close(rfd)
            os.close(wfd)
            return Execution(Outcome.INFRA_ERROR, detail=f"spawn failed: {exc}", isolation=self.isolation)
        os.close(wfd)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps({"driver": driver, "payload": with_limits(payload, limits)}).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        result = _collect(proc, rfd, limits, started)
        result.isolation = self.isolation
        _rmtree(workdir)
        return result

    def close(self) -> None:
        """Nothing is held between jobs; provided for the :class:`Sandbox` contract."""
        self._closed = True


def _collect(proc: subprocess.Popen[bytes], rfd: int, limits: Limits, started: float) -> Execution:
    deadline = started + limits.wall_s
    cap = limits.output_bytes
    buffers = {"records": bytearray(), "stdout": bytearray(), "stderr": bytearray()}
    dropped = {"stdout": 0, "stderr": 0}
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(rfd, selectors.EVENT_READ, "records")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr.fileno(), selectors.EVENT_READ, "stderr")
    timed_out = False
    killed = ""
    lines = 0
    open_streams = 3
    while open_streams and not killed:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(timeout=remaining):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                open_streams -= 1
                continue
            name = key.data
            buf = buffers[name]
            buf += chunk
            if name == "records":
                lines += chunk.count(b"\n")
                if len(buf) > limits.record_bytes or lines > limits.max_records:
                    killed = "records"
            elif len(buf) > cap:
                dropped[name] += len(buf) - cap
                del buf[: len(buf) - cap]
    sel.close()
    if timed_out or killed:
        _kill_group(proc.pid)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()
    _kill_group(proc.pid)  # leftovers of the session, if any
    os.close(rfd)
    proc.stdout.close()
    proc.stderr.close()
    return finish_execution(
        records_blob=bytes(buffers["records"]),
        stdout=bytes(buffers["stdout"]), stderr=bytes(buffers["stderr"]),
        dropped_stdout=dropped["stdout"], dropped_stderr=dropped["stderr"],
        returncode=proc.returncode, timed_out=timed_out, started=started, killed=killed,
        cpu_limit_s=float(limits.cpu_s), max_records=limits.max_records,
    )


def finish_execution(
    *, records_blob: bytes, stdout: bytes, stderr: bytes, dropped_stdout: int, dropped_stderr: int,
    returncode: int | None, timed_out: bool, started: float, killed: str = "",
    cpu_used_s: float | None = None, cpu_limit_s: float | None = None, max_records: int = Limits.max_records,
) -> Execution:
    """Classify a finished job from its raw pieces (shared by every executor).

    ``killed`` names the stream whose flood made the executor kill the job (``"records"``,
    ``"stdout"``, ``"stderr"``); ``cpu_used_s``/``cpu_limit_s`` let a SIGKILL that the
    executor did not send be attributed to RLIMIT_CPU's hard limit. Records are parsed as
    untrusted input (:func:`~tracefix_rl.engines.sandbox._records.parse_records`).
    """
    records, protocol_error = parse_records(records_blob, max_records=max_records)
    out = stdout.decode("utf-8", "replace")
    err = stderr.decode("utf-8", "replace")
    if dropped_stdout:
        out = f"[...truncated {dropped_stdout} bytes...]" + out
    if dropped_stderr:
        err = f"[...truncated {dropped_stderr} bytes...]" + err
    sig = -returncode if returncode is not None and returncode < 0 else None
    code = returncode if returncode is not None and returncode >= 0 else None
    finished = bool(records) and records[-1].get("kind") == "done"
    cpu_exhausted = (cpu_used_s is not None and cpu_limit_s is not None
                     and cpu_used_s >= cpu_limit_s - 0.05)
    detail = ""
    if timed_out:
        outcome = Outcome.TIMEOUT
        detail = "wall-clock deadline reached; the job was killed"
    elif killed:
        outcome = Outcome.OUTPUT_LIMIT
        detail = f"the job flooded {killed} and was killed"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_exhausted):
        outcome = Outcome.CPU_LIMIT
        detail = "CPU-time limit exceeded"
    elif sig == signal.SIGXFSZ:
        outcome = Outcome.OUTPUT_LIMIT
        detail = "file-size limit exceeded"
    elif sig is not None:
        outcome = Outcome.CRASHED
        detail = f"killed by signal {signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig}"
    elif ("MemoryError" in err[-2000:] and not finished) or _module_out_of_memory(records):
        outcome = Outcome.MEMORY
        detail = "memory limit exceeded"
    elif "File too large" in err[-2000:] and not finished:
        outcome = Outcome.OUTPUT_LIMIT
        detail = "file-size limit exceeded"
    elif code == 0 and finished:
        outcome = Outcome.OK
    elif _ends_cleanly(records):
        outcome = Outcome.OK
    else:
        outcome = Outcome.EXITED
        detail = f"the program ended the process early (exit code {code})"
    return Execution(
        outcome=outcome, records=records, stdout=out, stderr=err,
        stdout_truncated=bool(dropped_stdout), stderr_truncated=bool(dropped_stderr),
        duration_ms=(time.perf_counter() - started) * 1000, exit_code=code, signal=sig,
        detail=detail, protocol_error=protocol_error,
    )


def _module_out_of_memory(records: list[dict[str, Any]]) -> bool:
    """The program could not even be loaded because the address-space limit was hit."""
    last = records[-1] if records else {}
    return last.get("kind") == "module" and last.get("ok") is False and last.get("exc_type") == "MemoryError"


def _ends_cleanly(records: list[dict[str, Any]]) -> bool:
    """A job that stopped at a compile or module error finished its driver's work."""
    if not records:
        return False
    last = records[-1]
    return last.get("kind") in ("compile", "module") and last.get("ok") is False


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
