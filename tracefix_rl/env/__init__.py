"""Layer 4, the environment: the episode state machine, its wrappers and verified replay.

:class:`TraceFixEnvironment` is the one class that knows an episode; :class:`RecordEpisodes`
records one into a trajectory store (:func:`make_env` builds either), and
:func:`~tracefix_rl.env.replay.replay` re-runs a recorded episode and proves it identical or
names the first step that diverged. The environment imports the data, engine and core layers,
never a surface (server, client, CLI, agents, integrations).
"""

from tracefix_rl.env._environment import Checkpoint, TraceFixEnvironment
from tracefix_rl.env._render import listing
from tracefix_rl.env.wrappers import RecordEpisodes, Wrapper, make_env

__all__ = ["Checkpoint", "RecordEpisodes", "TraceFixEnvironment", "Wrapper", "listing", "make_env"]
