"""The TRACE action: show the CWM execution trace of a failing visible test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracefix_rl.models import CodeAction

if TYPE_CHECKING:
    from tracefix_rl.env._core import TraceFixEnvironment, _Outcome

__all__ = ["trace_step"]


def trace_step(env: TraceFixEnvironment, action: CodeAction, terms: dict[str, float]) -> _Outcome:
    """Trace ``action.test_name`` (or the first failing visible test) on the current program."""
    from tracefix_rl.env._core import _Outcome
    from tracefix_rl.errors import TraceError
    from tracefix_rl.trace import render_pretty, trace_in_sandbox

    task, buf = env._task, env._buffer
    assert task is not None and buf is not None
    cfg = env.config
    syntax = buf.syntax()
    if not syntax.ok:
        terms["invalid_action"] = cfg.reward.invalid_action
        msg = f"TRACE needs a program that parses; fix the syntax error first ({syntax.message})."
        return _Outcome(msg, error=msg)
    by_name = {t.name: t for t in task.tests}
    if action.test_name is not None:
        test = by_name.get(action.test_name)
        if test is None:
            terms["invalid_action"] = cfg.reward.invalid_action
            msg = f"unknown test_name {action.test_name!r}; visible tests: {', '.join(by_name)}"
            return _Outcome(msg, error=msg)
    else:
        run = env._last_run
        if run is None:
            run = env._evaluate(task.tests)
        failing = [r.test_name for r in run.results if not r.passed]
        test = by_name[failing[0]] if failing else task.tests[0]
    try:
        result = trace_in_sandbox(buf.source, call=test.call, setup=test.setup,
                                  max_frames=cfg.trace_max_frames, timeout_s=min(cfg.limits.wall_s, 2.0),
                                  sandbox=env.sandbox, owner=env.sandbox_owner)
    except TraceError as exc:
        msg = f"the trace could not be produced (sandbox error: {exc}); this step is not scored"
        return _Outcome(msg, error=msg, infra_error=True)
    header = f"Trace of {test.name}: {test.describe_call()}  (expected {test.describe_expectation()})\n"
    text = header + render_pretty(result, max_chars=cfg.trace_max_chars)
    raw = result.text if action.trace_format == "cwm" else None
    return _Outcome(text, trace=raw)
