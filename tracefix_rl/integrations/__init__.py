"""Adapters that let training libraries drive TraceFix-RL.

Each integration is its own module and imports its library only when used, so ``import
tracefix_rl`` and an in-process episode never load torch, trl, datasets, gymnasium or ray:

* :mod:`tracefix_rl.integrations.trl` -- ``TraceFixToolEnv`` for ``GRPOTrainer(environment_factory=...)``,
  ``make_env_factory``, ``make_dataset`` and reward helpers (extra ``trl``).
* :mod:`tracefix_rl.integrations.text_env` -- ``TraceFixTextEnv``, one text-in/text-out episode
  (``reset(seed, options) -> (str, info)``, ``step(str) -> (str, reward, terminated, truncated, info)``)
  that the framework adapters below are built on (no extra needed).
* :mod:`tracefix_rl.integrations.gymnasium` -- a ``gymnasium.Env`` with text spaces (extra ``gymnasium``).
* :mod:`tracefix_rl.integrations.skyrl` -- a SkyRL-gym ``BaseTextEnv`` (extra ``skyrl``).
* :mod:`tracefix_rl.integrations.ray` -- ``TraceFixRayPool``: one pool of environments over the
  machines of a Ray cluster, for training (``trl_factory``) and evaluation (``run_episodes``,
  ``tracefix eval --ray``) (extra ``ray``). Without Ray, :class:`tracefix_rl.integrations.sharded.ShardedClient`
  spreads sessions over several ``tracefix serve`` processes; both implement the pool interface
  of :mod:`tracefix_rl.integrations.pool`.

The tool-calling interface (tool names, schemas and the text each tool returns) lives in
:mod:`tracefix_rl.integrations.tools`, shared by the TRL environment and the SFT exporter.
"""
