"""Evaluate any model or agent over any task set: ``tracefix eval`` as a library.

::

    from tracefix_rl.evaluation import EvalOptions, EvalRunner, make_policy_agent, select_tasks

    tasks = select_tasks(tiers=["easy"])
    outcome = EvalRunner(make_policy_agent("repair"), tasks, EvalOptions(Path("runs/repair"))).run()
    print(outcome.report.resolved_rate, outcome.report.pass_at_k)

Pieces: task selection (:func:`select_tasks`), agents (:class:`ModelAgent` for any
OpenAI-compatible endpoint through :mod:`tracefix_rl.agents.llm`; :func:`make_policy_agent`
for the model-free ones), the runner (:class:`EvalRunner`: worker threads, retries, resume),
the files it writes (:class:`EpisodeResult` rows, the :class:`EvalReport`, ``report.html``)
and the unbiased :func:`pass_at_k`. ``openai`` is imported only when a :class:`ModelAgent`
is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracefix_rl.evaluation._agents import (
        AGENT_KINDS,
        AgentOutcome,
        EvalAgent,
        ModelAgent,
        PolicyAgent,
        make_policy_agent,
    )
    from tracefix_rl.evaluation._html import render_html
    from tracefix_rl.evaluation._passk import mean_pass_at_k, pass_at_k
    from tracefix_rl.evaluation._report import build_report, read_results
    from tracefix_rl.evaluation._runner import EvalOptions, EvalOutcome, EvalRunner, Progress
    from tracefix_rl.evaluation._schema import (
        COUNTED,
        REPORT_SCHEMA,
        RERUN_ON_RESUME,
        EpisodeResult,
        EvalReport,
        ExitStatus,
        episode_key,
        instance_id,
    )
    from tracefix_rl.evaluation._selection import (
        EpisodeSpec,
        EvalTask,
        parse_slice,
        parse_variants,
        select_tasks,
    )

__all__ = [
    "AGENT_KINDS",
    "COUNTED",
    "REPORT_SCHEMA",
    "RERUN_ON_RESUME",
    "AgentOutcome",
    "EpisodeResult",
    "EpisodeSpec",
    "EvalAgent",
    "EvalOptions",
    "EvalOutcome",
    "EvalReport",
    "EvalRunner",
    "EvalTask",
    "ExitStatus",
    "ModelAgent",
    "PolicyAgent",
    "Progress",
    "build_report",
    "episode_key",
    "instance_id",
    "make_policy_agent",
    "mean_pass_at_k",
    "parse_slice",
    "parse_variants",
    "pass_at_k",
    "read_results",
    "render_html",
    "select_tasks",
]

_LAZY = {
    "AGENT_KINDS": "_agents", "AgentOutcome": "_agents", "EvalAgent": "_agents", "ModelAgent": "_agents", "PolicyAgent": "_agents",
    "make_policy_agent": "_agents", "render_html": "_html", "mean_pass_at_k": "_passk", "pass_at_k": "_passk",
    "build_report": "_report", "read_results": "_report", "EvalOptions": "_runner", "EvalOutcome": "_runner",
    "EvalRunner": "_runner", "Progress": "_runner", "COUNTED": "_schema", "REPORT_SCHEMA": "_schema",
    "RERUN_ON_RESUME": "_schema", "EpisodeResult": "_schema", "EvalReport": "_schema", "ExitStatus": "_schema",
    "episode_key": "_schema", "instance_id": "_schema", "EpisodeSpec": "_selection", "EvalTask": "_selection",
    "parse_slice": "_selection", "parse_variants": "_selection", "select_tasks": "_selection",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracefix_rl.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tracefix_rl.evaluation.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
