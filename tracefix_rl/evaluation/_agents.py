"""The agents an evaluation can run, behind one small interface.

* :class:`ModelAgent`: any OpenAI-compatible endpoint through the agent loop of
  :mod:`tracefix_rl.agents.llm` (the loop behind ``inference.py``: same prompt, parsing and
  kill switches); ``openai`` is imported only when one is built.
* :class:`PolicyAgent`: a model-free policy (``act(observation) -> CodeAction``) stepped
  until the episode ends: ``repair`` (:class:`~tracefix_rl.agents.repair.RepairAgent`),
  ``random`` (:class:`~tracefix_rl.agents.random_policy.RandomPolicy`) and ``oracle``
  (applies the reference fix: an upper bound and a harness check, not a baseline).

An agent's :meth:`run` plays one episode on a :class:`~tracefix_rl.evaluation._envs.Tap` and
returns an :class:`AgentOutcome`; how the episode ended is mapped to an
:class:`~tracefix_rl.evaluation.ExitStatus` by the runner.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from tracefix_rl.core.models import CodeAction
from tracefix_rl.evaluation._selection import EpisodeSpec

__all__ = ["AGENT_KINDS", "AgentOutcome", "EvalAgent", "ModelAgent", "PolicyAgent", "make_policy_agent"]

AGENT_KINDS = ("llm", "repair", "random", "oracle")


@dataclass
class AgentOutcome:
    """How one episode went from the agent's side."""

    end: str
    """``submitted``, ``step_budget``, ``kill_parse_errors``, ``kill_model_errors``, ``kill_loop``,
    ``deadline`` or ``error`` (the episode could not be played to its end)."""
    model_calls: int = 0
    parse_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class EvalAgent(Protocol):
    """What the runner needs of an agent."""

    kind: str

    def describe(self) -> dict[str, Any]:
        """The agent's configuration, for ``report.json`` and the resume check."""
        ...

    def run(self, env: Any, spec: EpisodeSpec, reset: dict[str, Any], *, deadline: float | None,
            log: Callable[[str], None] | None = None) -> AgentOutcome:
        """Play one episode: ``env.reset(**reset)``, then steps until it is done; diagnostics go to ``log``."""
        ...


def endpoint_host(url: str) -> str:
    """``host[:port]/path`` of an endpoint URL: no scheme, credentials or query in reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return host + parts.path.rstrip("/")


class ModelAgent:
    """An OpenAI-compatible model through :func:`tracefix_rl.agents.llm.run_episode`.

    Args:
        model: the model name sent to the endpoint.
        base_url: the endpoint (``.../v1``).
        api_key: the key (from the environment; never written to any file).
        temperature, top_p, max_tokens: sampling options sent with every request.
        max_steps: steps per episode (the last one is a SUBMIT).
        request_timeout: seconds per HTTP request; ``max_retries`` of the ``openai`` client.
        log: receives the loop's diagnostics (parse errors, kill switches) when ``run`` is
            given no ``log`` of its own (default: stderr).
    """

    kind = "llm"

    def __init__(self, *, model: str, base_url: str, api_key: str | None, temperature: float = 0.0,
                 top_p: float | None = None, max_tokens: int | None = 1024, max_steps: int = 50,
                 request_timeout: float = 120.0, max_retries: int = 2,
                 log: Callable[[str], None] | None = None) -> None:
        from openai import OpenAI

        from tracefix_rl.agents.llm import AgentConfig

        self.base_url = base_url
        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-set", timeout=request_timeout,
                             max_retries=max_retries)
        self.config = AgentConfig(model_name=model, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                  max_steps=max_steps, seed=None)
        self.log = log

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {"kind": self.kind, "model": c.model_name, "endpoint": endpoint_host(self.base_url),
                "temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens,
                "max_steps": c.max_steps, "max_parse_errors": c.max_parse_errors, "max_repeats": c.max_repeats,
                "history_turns": c.history_turns}

    def run(self, env: Any, spec: EpisodeSpec, reset: dict[str, Any], *, deadline: float | None,
            log: Callable[[str], None] | None = None) -> AgentOutcome:
        from tracefix_rl.agents.llm import run_episode

        summary = run_episode(env, self.client, spec.task.name, self.config,
                              deadline=math.inf if deadline is None else deadline, out=io.StringIO(),
                              reset_options=reset, log=log or self.log)
        return AgentOutcome(end=summary.end, model_calls=summary.model_calls, parse_errors=summary.parse_errors,
                            prompt_tokens=summary.prompt_tokens, completion_tokens=summary.completion_tokens,
                            error=summary.error)


class Policy(Protocol):
    def act(self, observation: Any) -> CodeAction: ...


class PolicyAgent:
    """A model-free policy stepped to the end of the episode.

    ``factory(spec)`` builds a fresh policy for every episode. The episode ends when the
    environment says so; a policy that keeps going past ``max_steps`` (possible only while
    the sandbox reports infrastructure errors) ends it with an ``error``. At the ``deadline``
    the policy is stopped and the program submitted.
    """

    def __init__(self, kind: str, factory: Callable[[EpisodeSpec], Policy], *, max_steps: int = 50,
                 settings: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.factory = factory
        self.max_steps = max_steps
        self.settings = settings or {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_steps": self.max_steps, **self.settings}

    def run(self, env: Any, spec: EpisodeSpec, reset: dict[str, Any], *, deadline: float | None,
            log: Callable[[str], None] | None = None) -> AgentOutcome:
        result = env.reset(**reset)
        policy = self.factory(spec)
        end = None
        for _ in range(self.max_steps + 10):
            if result.done:
                break
            if end == "deadline" or (deadline is not None and time.monotonic() >= deadline):
                end = "deadline"
                action = CodeAction(action_type="SUBMIT", thought="Time limit reached.")
            else:
                action = policy.act(result.observation)
            result = env.step(action)
        if not result.done:
            return AgentOutcome(end="error", error="the episode did not end within the step budget")
        return AgentOutcome(end=end or result.observation.end_reason or "submitted")


def make_policy_agent(kind: str, *, max_steps: int = 50) -> PolicyAgent:
    """The built-in model-free agent called ``kind`` (``repair``, ``random`` or ``oracle``)."""
    if kind == "repair":
        from dataclasses import asdict

        from tracefix_rl.agents.repair import RepairAgent, RepairConfig

        return PolicyAgent("repair", lambda spec: RepairAgent(), max_steps=max_steps,
                           settings={"repair": asdict(RepairConfig())})
    if kind == "random":
        from tracefix_rl.agents.random_policy import RandomPolicy

        return PolicyAgent("random", lambda spec: RandomPolicy(spec.seed * 1_000_003 + spec.sample),
                           max_steps=max_steps, settings={"policy_seed": "seed * 1000003 + sample"})
    if kind == "oracle":
        from tracefix_rl.agents.scripted import OraclePolicy

        def oracle(spec: EpisodeSpec) -> Policy:
            return OraclePolicy({"task_name": spec.task.name, "task_pack": spec.task.pack,
                                 "variant": spec.task.variant})

        return PolicyAgent("oracle", oracle, max_steps=max_steps,
                           settings={"note": "reads the reference solution: an upper bound, not a baseline"})
    raise ValueError(f"unknown agent {kind!r}; choose from {', '.join(AGENT_KINDS)}")
