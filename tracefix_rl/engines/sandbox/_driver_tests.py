"""Test driver: runs inside the sandbox child, executes test calls, reports actual values.

The driver never sees expected values. For each test it evaluates the test's ``setup``
statements and ``call`` expression in the program's namespace and emits the canonical
encoding of the result (or the exception), so a program that forges records can only forge
*values*, which still have to be the right answers. The comparison with expected values
happens in the environment process (:mod:`tracefix_rl.engines.judge`).

Each test's ``setup`` and ``call`` run in a namespace of their own: the program's names, minus
any that shadow a builtin (except ``entry_point``), over a fresh copy of the builtins as they were
when the driver was imported. So a program that defines ``bool`` or ``len``, or patches the
``builtins`` module, changes what its own code sees but not what the test code calls.

Payload::

    {"source": str, "filename": str, "seed": int, "per_test_s": float, "entry_point": str | None,
     "tests": [{"name": str, "setup": str, "call": str}, ...], "stop_at_timeout": bool (optional)}

With ``stop_at_timeout``, no test runs after one that timed out (the job ends with ``done``).

Records, in order: ``{"kind": "compile", ...}``, ``{"kind": "module", ...}``, then for each
test ``{"kind": "start", "index": i}`` followed by ``{"kind": "test", ...}``, and finally
``{"kind": "done"}``. A job killed part-way leaves a ``start`` without its ``test``.
"""

from __future__ import annotations

import builtins
import io
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from tracefix_rl.core.values import canonical, display

__all__ = ["run"]

_MAX_VALUE_CHARS = 100_000
_MAX_STDOUT_CHARS = 4_000

#: The builtins as they were when the driver was imported (in the fork-server, before any job).
_PRISTINE_BUILTINS: dict[str, Any] = dict(builtins.__dict__)


def _test_namespace(program: dict[str, Any], entry_point: str | None) -> dict[str, Any]:
    """The namespace one test's setup and call run in (see the module docstring)."""
    ns: dict[str, Any] = {"__builtins__": dict(_PRISTINE_BUILTINS), "__name__": "__main__"}
    for name, value in program.items():
        if name not in _PRISTINE_BUILTINS or name == entry_point:
            ns[name] = value
    return ns


class _TestTimeout(BaseException):
    """Raised by the per-test interval timer; a BaseException so ``except Exception`` misses it."""


class _CappedWriter(io.StringIO):
    def __init__(self, cap: int) -> None:
        super().__init__()
        self._cap = cap
        self.dropped = 0

    def write(self, s: str) -> int:
        room = self._cap - self.tell()
        if room > 0:
            super().write(s[:room])
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)


def _program_frames(tb: Any, filename: str, lines: list[str]) -> list[list[Any]]:
    # Walk the traceback directly: traceback.extract_tb would consult linecache (file I/O).
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == filename:
            lineno = tb.tb_lineno
            text = lines[lineno - 1].strip() if lineno and 0 < lineno <= len(lines) else ""
            frames.append([lineno, code.co_name, text])
        tb = tb.tb_next
    return frames


def _exception_record(exc: BaseException, filename: str, lines: list[str]) -> dict[str, Any]:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    return {
        "exc_type": type(exc).__name__,
        "exc_message": message[:2000],
        "traceback": _program_frames(exc.__traceback__, filename, lines),
    }


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TestTimeout()


def run(payload: dict[str, Any], emit: Callable[[dict[str, Any]], None]) -> None:
    """Execute the payload's program and tests, emitting one record per stage."""
    source: str = payload["source"]
    filename: str = payload.get("filename", "program.py")
    seed: int = int(payload.get("seed", 0))
    per_test_s: float = float(payload.get("per_test_s", 2.0))
    stop_at_timeout = bool(payload.get("stop_at_timeout", False))
    entry_point = payload.get("entry_point")
    lines = source.splitlines()

    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        emit({"kind": "compile", "ok": False, "line": exc.lineno, "offset": exc.offset,
              "message": exc.msg, "text": (exc.text or "").rstrip("\n")})
        return
    except (ValueError, MemoryError, RecursionError) as exc:  # e.g. null bytes, absurd nesting
        emit({"kind": "compile", "ok": False, "line": None, "offset": None,
              "message": f"{type(exc).__name__}: {exc}", "text": ""})
        return
    emit({"kind": "compile", "ok": True})

    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename, "__builtins__": __builtins__}
    real_stdout = sys.stdout
    capture = _CappedWriter(_MAX_STDOUT_CHARS)
    random.seed(seed)
    sys.stdout = capture
    try:
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - the program may raise anything, SystemExit included
        sys.stdout = real_stdout
        emit({"kind": "module", "ok": False, "stdout": capture.getvalue(),
              **_exception_record(exc, filename, lines)})
        return
    finally:
        sys.stdout = real_stdout
    emit({"kind": "module", "ok": True, "stdout": capture.getvalue()})

    signal.signal(signal.SIGALRM, _on_alarm)
    for index, test in enumerate(payload["tests"]):
        emit({"kind": "start", "index": index})
        capture = _CappedWriter(_MAX_STDOUT_CHARS)
        record: dict[str, Any] = {"kind": "test", "index": index, "name": test["name"]}
        random.seed(seed)
        started = time.perf_counter()
        sys.stdout = capture
        try:
            signal.setitimer(signal.ITIMER_REAL, per_test_s)
            try:
                test_ns = _test_namespace(namespace, entry_point)
                if test.get("setup"):
                    exec(compile(test["setup"], "<test>", "exec", dont_inherit=True), test_ns)
                value = eval(compile(test["call"], "<test>", "eval", dont_inherit=True), test_ns)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            encoded = canonical(value)
            if len(encoded) > _MAX_VALUE_CHARS:
                encoded = encoded[:_MAX_VALUE_CHARS] + "<truncated>"
            record.update(status="returned", value=encoded, display=display(value))
        except _TestTimeout:
            record.update(status="timeout")
        except BaseException as exc:  # noqa: BLE001
            record.update(status="raised", **_exception_record(exc, filename, lines))
        finally:
            sys.stdout = real_stdout
        record["stdout"] = capture.getvalue()
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        emit(record)
        if stop_at_timeout and record["status"] == "timeout":
            break
    emit({"kind": "done"})
