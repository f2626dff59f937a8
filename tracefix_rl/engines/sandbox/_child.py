"""Code that runs in a sandbox child after isolation is in place: resolve the driver, run it.

Records go to a private file descriptor as newline-delimited JSON, written with ``os.write``
so nothing the program does to ``sys.stdout`` can interleave with them.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
from collections.abc import Callable
from typing import Any

from tracefix_rl.engines.sandbox._base import DRIVERS

__all__ = ["load_driver", "make_emitter", "run_job"]

_MAX_RECORD_BYTES = 1 << 20


def load_driver(name: str) -> Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], None]:
    """Import and return the driver function registered under ``name``."""
    module_name, _, func_name = DRIVERS[name].partition(":")
    return getattr(importlib.import_module(module_name), func_name)  # type: ignore[no-any-return]


#: Record kinds that are always followed, before any program code runs again, by a record
#: that flushes (``start`` or ``done``): they can share that record's write.
_DEFERRABLE = frozenset({"module", "test"})


class _Emitter:
    """Writes one JSON line per record to ``fd``; see :func:`make_emitter`."""

    def __init__(self, fd: int, batch: bool) -> None:
        self._fd = fd
        self._batch = batch
        self._pending: list[bytes] = []
        self._dumps = json.dumps

    def __call__(self, record: dict[str, Any]) -> None:
        data = (self._dumps(record, ensure_ascii=True, default=repr) + "\n").encode()
        if len(data) > _MAX_RECORD_BYTES:
            data = (self._dumps({"kind": "oversize", "bytes": len(data)}) + "\n").encode()
        self._pending.append(data)
        if not (self._batch and record.get("kind") in _DEFERRABLE and record.get("ok", True)):
            self.flush()

    def flush(self) -> None:
        """Write every held-back record now."""
        if not self._pending:
            return
        view = memoryview(b"".join(self._pending))
        self._pending.clear()
        while view:
            view = view[os.write(self._fd, view):]


def make_emitter(fd: int, *, batch: bool = False) -> Callable[[dict[str, Any]], None]:
    """Return an ``emit`` that writes one JSON line per record to ``fd``.

    With ``batch``, a successful ``module`` record and ``test`` records are held back and
    written together with the next record (a ``start`` or ``done`` always follows before any
    program code runs), which halves the writes and the executor's wake-ups per test. The
    returned object has a ``flush()`` method.
    """
    return _Emitter(fd, batch)


def run_job(driver: str, payload: dict[str, Any], fd: int) -> None:
    """Run one job in the current (already isolated) process, reporting through ``fd``.

    Buffered ``sys.stdout``/``sys.stderr`` output is flushed before the ``done`` record, so an
    executor may end the process as soon as it sees ``done`` without losing output.
    """
    emit = make_emitter(fd, batch=driver == "tests")

    def emit_flushing(record: dict[str, Any]) -> None:
        if record.get("kind") == "done":
            for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
                try:
                    stream.flush()  # type: ignore[union-attr]
                except Exception:  # noqa: BLE001 - a program may have broken or replaced them
                    pass
        emit(record)

    random.seed(int(payload.get("seed", 0)))
    try:
        load_driver(driver)(payload, emit_flushing)
    finally:
        emit.flush()  # type: ignore[attr-defined]
