"""Tracing agent code: :func:`trace_in_sandbox` runs the tracer inside the sandbox child."""

from __future__ import annotations

import math

from tracefix_rl.core.errors import SandboxError, TraceError
from tracefix_rl.core.task import TestSpec
from tracefix_rl.engines.sandbox import Limits, Outcome, Sandbox, get_sandbox
from tracefix_rl.engines.trace._driver import DEFAULT_MAX_OUTPUT_CHARS
from tracefix_rl.engines.trace.tracer import TraceResult, build_context

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
    owner: str | None = None,
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
        sandbox: The executor; :func:`tracefix_rl.engines.sandbox.get_sandbox` by default.
        owner: Who the job is for (the environment's id), so the sandbox can share workers fairly.

    Returns:
        The trace. A program that never terminates gives a truncated result with reason
        ``"timeout"``, with the frames traced so far when the child's own deadline fired and
        none when the sandbox had to kill the child. Memory exhaustion, ``os._exit`` and
        crashes likewise give truncated results (reasons ``"memory"``, ``"exited"``,
        ``"crashed"``); a program that does not compile, cannot be traced as asked, or breaks
        the harness protocol (forged or malformed records) gives reason ``"error"``. What
        comes back from the sandbox is untrusted input, checked against the trace driver's
        schema (:func:`tracefix_rl.engines.sandbox.protocol.read_trace_stream`).

    Raises:
        TraceError: Neither or both of ``call`` and ``entry``, or the sandbox itself failed
            (its own infrastructure error, or misuse). Nothing the program does raises.
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
        ex = box.execute("trace", payload, limits, owner=owner)
    except SandboxError as exc:
        raise TraceError(f"sandbox refused the trace job: {exc}") from exc
    if ex.outcome is Outcome.INFRA_ERROR:  # the executor's verdict, never the program's
        raise TraceError(f"sandbox infrastructure error: {ex.detail or ex.stderr[-500:]}")
    # Imported here: this module is also imported by the fork-server, which has no pydantic.
    from tracefix_rl.engines.sandbox.protocol import read_trace_stream

    def failed(reason: str, why: str, note: str | None = None) -> TraceResult:
        return TraceResult(
            text="", frames=[], truncated=True, truncation_reason=reason, context=context,
            entry=entry_name, call=call, seeded_frames=1 if call is not None else 0,
            non_cwm=[f"truncated ({reason}; {note or why})"], error=why, stdout=ex.stdout[-4000:],
        )

    stream = read_trace_stream(ex.records, ex.protocol_error)
    if stream.violation is not None:
        return failed("error", stream.violation)
    if stream.error is not None:
        return failed("error", stream.error)
    if stream.trace is not None:
        try:
            result = TraceResult.from_dict(stream.trace.model_dump(exclude={"kind"}))
        except Exception as exc:  # noqa: BLE001 - a well-typed but forged text that does not parse
            return failed("error", f"the program broke the harness protocol (unreadable trace: {exc})"[:500])
        if ex.outcome is not Outcome.OK and not result.truncated:
            # the trace finished but the process died afterwards: keep the trace, say so
            result.non_cwm.append(f"sandbox outcome {ex.outcome.value} after the trace")
        return result
    reason = _OUTCOME_REASON.get(ex.outcome)
    if reason is None and stream.oversize:
        reason = "max_output_chars"
    if reason is None:
        return failed("error", "the program broke the harness protocol (the trace job ended without a trace)")
    return failed(reason, f"sandbox outcome {ex.outcome.value}", f"the sandbox ended the job: {ex.outcome.value}")


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
