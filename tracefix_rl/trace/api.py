"""Tracing agent code: :func:`trace_in_sandbox` runs the tracer inside the sandbox child."""

from __future__ import annotations

import math
from typing import Any

from tracefix_rl.errors import SandboxError, TraceError
from tracefix_rl.sandbox import Limits, Outcome, Sandbox, get_sandbox
from tracefix_rl.tasks import TestSpec
from tracefix_rl.trace._driver import DEFAULT_MAX_OUTPUT_CHARS
from tracefix_rl.trace.tracer import TraceResult, build_context

__all__ = ["trace_in_sandbox", "trace_test"]

# Sandbox start-up plus module execution; the child's own deadline fires first so its partial
# trace survives, and the wall-clock kill is only the backstop.
_STARTUP_SLACK_S = 5.0

_OUTCOME_REASON = {
    Outcome.TIMEOUT: "timeout",
    Outcome.CPU_LIMIT: "timeout",
    Outcome.MEMORY: "memory",
    Outcome.OUTPUT_LIMIT: "output_limit",
    Outcome.EXITED: "exited",
    Outcome.CRASHED: "crashed",
}


def trace_in_sandbox(
    source: str,
    *,
    call: str | None = None,
    entry: str | None = None,
    setup: str = "",
    max_frames: int = 2000,
    max_value_chars: int | None = None,
    timeout_s: float = 5.0,
    sandbox: Sandbox | None = None,
) -> TraceResult:
    """Trace ``source`` in the sandbox and return the :class:`TraceResult`.

    Args:
        source: The (agent's) program.
        call: Call expression traced through the marked ``main`` wrapper, e.g. ``"f(3, 'ab')"``.
        entry: Or: name of a zero-argument function to trace. Exactly one of the two.
        setup: Statements run inside the wrapper before the call (a test's ``setup``).
        max_frames: Frame limit (truncation reason ``"max_frames"``).
        max_value_chars: Optional non-CWM clipping of long values.
        timeout_s: Tracing budget inside the child (truncation reason ``"timeout"``).
        sandbox: The executor; :func:`tracefix_rl.sandbox.get_sandbox` by default.

    Returns:
        The trace. A program that never terminates gives a truncated result with reason
        ``"timeout"``, with the frames traced so far when the child's own deadline fired and
        none when the sandbox had to kill the child. Memory exhaustion, ``os._exit`` and
        crashes likewise give truncated results (reasons ``"memory"``, ``"exited"``,
        ``"crashed"``); a program that does not compile gives reason ``"error"``.

    Raises:
        TraceError: Neither or both of ``call`` and ``entry``, or the sandbox failed
            (infrastructure error, misuse, missing trace record).
    """
    context, entry_name = build_context(source, entry=entry, call=call, setup=setup)
    box = sandbox if sandbox is not None else get_sandbox()
    payload = {
        "source": source, "call": call, "entry": entry, "setup": setup, "max_frames": max_frames,
        "max_value_chars": max_value_chars, "timeout_s": timeout_s,
        "max_output_chars": DEFAULT_MAX_OUTPUT_CHARS,
    }
    limits = Limits(wall_s=timeout_s + _STARTUP_SLACK_S, cpu_s=math.ceil(timeout_s) + 5)
    try:
        ex = box.execute("trace", payload, limits)
    except SandboxError as exc:
        raise TraceError(f"sandbox refused the trace job: {exc}") from exc
    if ex.outcome is Outcome.INFRA_ERROR:
        raise TraceError(f"sandbox infrastructure error: {ex.detail or ex.stderr[-500:]}")
    for record in ex.records:
        if record.get("kind") == "trace_error":
            raise TraceError(str(record.get("message")))
    rec: dict[str, Any] | None = next((r for r in ex.records if r.get("kind") == "trace"), None)
    if rec is not None:
        result = TraceResult.from_dict(rec)
        if ex.outcome is not Outcome.OK and not result.truncated:
            # the trace finished but the process died afterwards: keep the trace, say so
            result.non_cwm.append(f"sandbox outcome {ex.outcome.value} after the trace")
        return result
    reason = _OUTCOME_REASON.get(ex.outcome)
    if reason is None and any(r.get("kind") == "oversize" for r in ex.records):
        reason = "max_output_chars"
    if reason is None:
        raise TraceError(f"trace job ended without a trace record; outcome {ex.outcome.value}: "
                         f"{ex.stderr[-500:]}")
    return TraceResult(
        text="", frames=[], truncated=True, truncation_reason=reason, context=context,
        entry=entry_name, call=call, seeded_frames=1 if call is not None else 0,
        non_cwm=[f"truncated ({reason}; the sandbox ended the job: {ex.outcome.value})"],
        error=f"sandbox outcome {ex.outcome.value}", stdout=ex.stdout[-4000:],
    )


def trace_test(
    source: str,
    test: TestSpec,
    *,
    max_frames: int = 2000,
    max_value_chars: int | None = None,
    timeout_s: float = 5.0,
    sandbox: Sandbox | None = None,
) -> TraceResult:
    """Trace one task test (its ``setup`` and ``call``) against ``source`` in the sandbox.

    Equivalent to ``trace_in_sandbox(source, call=test.call, setup=test.setup, ...)``; this is
    what the environment's TRACE action runs for the chosen test.
    """
    return trace_in_sandbox(source, call=test.call, setup=test.setup, max_frames=max_frames,
                            max_value_chars=max_value_chars, timeout_s=timeout_s, sandbox=sandbox)
