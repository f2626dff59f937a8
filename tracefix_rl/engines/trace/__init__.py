"""Execution traces in Meta CWM's format: trace, parse, render, resolve and score.

Public surface:

* :func:`trace_in_sandbox` traces agent code inside the sandbox (use this for untrusted code),
  :func:`trace_test` does it for a task's test; :func:`trace_program` is the in-process tracer
  they run.
* :class:`TraceResult`, :class:`TraceFrame`, :class:`TraceEvent`, and the format functions
  :func:`parse_generated_trace`, :func:`render_frames_to_generation`, :func:`parse_locals`,
  :func:`normalize_source`, :func:`resolve_locals`.
* :func:`score_trace` and :func:`aggregate` (metrics), :func:`render_pretty` and
  :func:`render_observation` (bounded human-readable renderings for observations).

CWM-exact output is defined for CPython 3.11; every :class:`TraceResult` records the
interpreter that made it (``python_version``) and whether it is CWM-exact (``cwm_exact``).
"""

from tracefix_rl.engines.trace.api import trace_in_sandbox, trace_test
from tracefix_rl.engines.trace.format import (
    START_MARKER,
    ParsedTrace,
    TraceEvent,
    TraceFrame,
    normalize_source,
    parse_generated_trace,
    parse_locals,
    parse_trace,
    render_frames_to_generation,
    resolve_locals,
)
from tracefix_rl.engines.trace.metrics import TraceScore, aggregate, score_trace
from tracefix_rl.engines.trace.pretty import render_observation, render_pretty
from tracefix_rl.engines.trace.tracer import TraceResult, trace_program

__all__ = [
    "START_MARKER",
    "ParsedTrace",
    "TraceEvent",
    "TraceFrame",
    "TraceResult",
    "TraceScore",
    "aggregate",
    "normalize_source",
    "parse_generated_trace",
    "parse_locals",
    "parse_trace",
    "render_frames_to_generation",
    "render_observation",
    "render_pretty",
    "resolve_locals",
    "score_trace",
    "trace_in_sandbox",
    "trace_program",
    "trace_test",
]
