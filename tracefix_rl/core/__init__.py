"""Layer 1, the core: typed models, errors, configuration, scoring and the task and trajectory schemas.

Nothing here imports another layer of TraceFix-RL, and nothing here is heavy: the sandbox
child imports :mod:`tracefix_rl.core.values` on every job. The public names are re-exported
by :mod:`tracefix_rl`.
"""
