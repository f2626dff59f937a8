"""Agents: scripted policies that need no model, and (lazily) the LLM agent loop."""

from typing import Any

from tracefix_rl.agents.scripted import fix_actions, oracle_actions

__all__ = ["AgentConfig", "EpisodeSummary", "fix_actions", "oracle_actions", "run_episode", "run_tasks"]

_LLM = {"AgentConfig", "EpisodeSummary", "run_episode", "run_tasks"}


def __getattr__(name: str) -> Any:
    if name in _LLM:
        from tracefix_rl.agents import llm

        return getattr(llm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
