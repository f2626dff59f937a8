"""Layer 2, the engines: what executes and transforms programs.

:mod:`~tracefix_rl.engines.sandbox` (isolated execution), :mod:`~tracefix_rl.engines.judge`
(running and judging tests, the retry policy, tallies by role), :mod:`~tracefix_rl.engines.trace`
(CWM execution traces), :mod:`~tracefix_rl.engines.mutation` (bug-planting operators),
:mod:`~tracefix_rl.engines.probes` (reward-hacking probe programs) and
:mod:`~tracefix_rl.engines.flags` (security flags of edits). Engines import only the core.
"""
