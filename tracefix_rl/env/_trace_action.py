"""The TRACE action: the CWM execution trace of one visible test on the current program."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.task import TestSpec
from tracefix_rl.engines.syntax import SyntaxReport

__all__ = ["TraceReply", "trace_test"]


@dataclass(frozen=True)
class TraceReply:
    """What the TRACE step shows: the rendered trace, or why there is none.

    ``invalid`` means the agent asked for something impossible (it pays the invalid-action cost);
    ``infra_error`` means the sandbox failed (the step is not scored).
    """

    output: str
    error: str | None = None
    trace: str | None = None
    invalid: bool = False
    infra_error: bool = False


def trace_test(*, source: str, syntax: SyntaxReport, tests: Sequence[TestSpec], test_name: str | None,
               failing: Callable[[], list[str]], config: EnvConfig, sandbox: Any, owner: Any,
               trace_format: str | None) -> TraceReply:
    """Trace ``test_name`` (or the first failing visible test, else the first test) on ``source``.

    ``failing`` is called only when no test is named: it returns the names of the visible tests
    that fail on ``source`` (the environment's last run, or a new one).
    """
    from tracefix_rl.core.errors import TraceError
    from tracefix_rl.engines.trace import render_pretty, trace_in_sandbox

    if not syntax.ok:
        msg = f"TRACE needs a program that parses; fix the syntax error first ({syntax.message})."
        return TraceReply(msg, error=msg, invalid=True)
    by_name = {t.name: t for t in tests}
    if test_name is not None:
        if test_name not in by_name:
            msg = f"unknown test_name {test_name!r}; visible tests: {', '.join(by_name)}"
            return TraceReply(msg, error=msg, invalid=True)
        test = by_name[test_name]
    else:
        names = failing()
        test = by_name[names[0]] if names else tests[0]
    try:
        result = trace_in_sandbox(source, call=test.call, setup=test.setup, max_frames=config.trace_max_frames,
                                  timeout_s=min(config.limits.wall_s, 2.0), sandbox=sandbox, owner=owner)
    except TraceError as exc:
        msg = f"the trace could not be produced (sandbox error: {exc}); this step is not scored"
        return TraceReply(msg, error=msg, infra_error=True)
    header = f"Trace of {test.name}: {test.describe_call()}  (expected {test.describe_expectation()})\n"
    text = header + render_pretty(result, max_chars=config.trace_max_chars)
    return TraceReply(text, trace=result.text if trace_format == "cwm" else None)
