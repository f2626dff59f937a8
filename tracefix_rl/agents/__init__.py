"""Agents: scripted policies that need no model, and (lazily) the LLM agent loop."""

from tracefix_rl.agents.scripted import fix_actions, oracle_actions

__all__ = ["fix_actions", "oracle_actions"]
