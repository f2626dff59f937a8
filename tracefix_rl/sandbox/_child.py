"""Code that runs in a sandbox child after isolation is in place: resolve the driver, run it.

Records go to a private file descriptor as newline-delimited JSON, written with ``os.write``
so nothing the program does to ``sys.stdout`` can interleave with them.
"""

from __future__ import annotations

import importlib
import json
import os
import random
from collections.abc import Callable
from typing import Any

from tracefix_rl.sandbox._base import DRIVERS

__all__ = ["load_driver", "make_emitter", "run_job"]

_MAX_RECORD_BYTES = 1 << 20


def load_driver(name: str) -> Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], None]:
    """Import and return the driver function registered under ``name``."""
    module_name, _, func_name = DRIVERS[name].partition(":")
    return getattr(importlib.import_module(module_name), func_name)  # type: ignore[no-any-return]


def make_emitter(fd: int) -> Callable[[dict[str, Any]], None]:
    """Return an ``emit`` that writes one JSON line per record to ``fd``."""
    dumps = json.dumps
    write = os.write

    def emit(record: dict[str, Any]) -> None:
        data = (dumps(record, ensure_ascii=True, default=repr) + "\n").encode()
        if len(data) > _MAX_RECORD_BYTES:
            data = (dumps({"kind": "oversize", "bytes": len(data)}) + "\n").encode()
        view = memoryview(data)
        while view:
            n = write(fd, view)
            view = view[n:]

    return emit


def run_job(driver: str, payload: dict[str, Any], fd: int) -> None:
    """Run one job in the current (already isolated) process, reporting through ``fd``."""
    random.seed(int(payload.get("seed", 0)))
    load_driver(driver)(payload, make_emitter(fd))
