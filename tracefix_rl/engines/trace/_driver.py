"""Sandbox driver for traces: runs inside the (already isolated) sandbox child.

Payload::

    {"source": str, "call": str | None, "entry": str | None, "setup": str,
     "max_frames": int, "max_value_chars": int | None, "timeout_s": float,
     "max_depth": int, "max_output_chars": int}

Emits ``{"kind": "trace", **TraceResult.to_dict()}`` and then ``{"kind": "done"}``. Everything
this module needs is imported at module import time, because a hardened child may be unable
to import modules later.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from tracefix_rl.core.errors import TraceError
from tracefix_rl.engines.trace.tracer import TraceResult, trace_program

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "run"]

#: Default cap on the trace text; :func:`_fit` makes sure the encoded record also fits.
DEFAULT_MAX_OUTPUT_CHARS = 300_000
# The sandbox replaces records over 1 MiB by an "oversize" marker; stay below with a margin.
_MAX_RECORD_BYTES = 900_000
_MAX_STDOUT_CHARS = 4_000


class _CappedWriter(io.StringIO):
    """A stdout replacement that keeps the first ``cap`` characters and counts the rest."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self._cap = cap

    def write(self, s: str) -> int:
        room = self._cap - self.tell()
        if room > 0:
            super().write(s[:room])
        return len(s)


def _fit(result: TraceResult) -> dict[str, Any]:
    """The trace record, with frames dropped from the end until its JSON fits the record cap."""
    record = {"kind": "trace", **result.to_dict()}
    if len(json.dumps(record, ensure_ascii=True)) <= _MAX_RECORD_BYTES:
        return record
    result.context = result.context[:_MAX_RECORD_BYTES // 4]
    result.stdout = ""
    n = len(result.frames)
    while True:
        n //= 2
        record = {"kind": "trace", **result.truncated_to(n, "max_output_chars").to_dict()}
        if n == 0 or len(json.dumps(record, ensure_ascii=True)) <= _MAX_RECORD_BYTES:
            return record


def run(payload: dict[str, Any], emit: Callable[[dict[str, Any]], None]) -> None:
    """Trace the payload's program and emit one ``trace`` record, then ``done``."""
    capture = _CappedWriter(_MAX_STDOUT_CHARS)
    real_stdout = sys.stdout

    def hard_stop(partial: TraceResult) -> None:
        # the program swallowed the timeout abort; report what was traced and end the child
        sys.stdout = real_stdout
        partial.stdout = capture.getvalue()
        emit(_fit(partial))
        emit({"kind": "done"})
        os._exit(0)

    sys.stdout = capture
    try:
        result = trace_program(
            payload["source"],
            entry=payload.get("entry"),
            call=payload.get("call"),
            setup=payload.get("setup") or "",
            max_frames=int(payload.get("max_frames", 2000)),
            max_value_chars=payload.get("max_value_chars"),
            timeout_s=float(payload.get("timeout_s", 5.0)),
            max_depth=int(payload.get("max_depth", 200)),
            max_output_chars=min(int(payload.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS)),
                                 DEFAULT_MAX_OUTPUT_CHARS),
            use_alarm=True,
            hard_stop=hard_stop,
        )
    except TraceError as exc:
        sys.stdout = real_stdout
        emit({"kind": "trace_error", "message": str(exc)})
        emit({"kind": "done"})
        return
    finally:
        sys.stdout = real_stdout
    result.stdout = capture.getvalue()
    emit(_fit(result))
    emit({"kind": "done"})
