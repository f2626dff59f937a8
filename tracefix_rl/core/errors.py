"""Exceptions raised by TraceFix-RL.

Everything an agent's *code* does wrong (failing tests, syntax errors, a timeout in the
sandbox) and every malformed *action* becomes an observation, never an exception. The classes
below are for API misuse and broken infrastructure only::

    TraceFixError
    ├── TaskError
    │   └── UnknownTaskError
    ├── EpisodeError
    │   ├── ResetNeededError
    │   ├── SessionClosedError
    │   └── ResetArgumentError            (also a ValueError)
    │       ├── UnknownArgumentError      (also a TypeError)
    │       └── EpisodeIdInUseError
    ├── SandboxError
    │   └── SandboxStartError
    ├── TraceError
    ├── TrajectoryError
    │   └── ReplayError
    └── EvaluationError
"""

from __future__ import annotations

__all__ = [
    "EpisodeError",
    "EpisodeIdInUseError",
    "EvaluationError",
    "ReplayError",
    "ResetArgumentError",
    "ResetNeededError",
    "SandboxError",
    "SandboxStartError",
    "SessionClosedError",
    "TaskError",
    "TraceError",
    "TraceFixError",
    "TrajectoryError",
    "UnknownArgumentError",
    "UnknownTaskError",
]


class TraceFixError(Exception):
    """Base class of every exception raised by TraceFix-RL."""


class TaskError(TraceFixError):
    """A task is malformed or cannot be loaded."""


class UnknownTaskError(TaskError, KeyError):
    """No task with the requested name (the message lists close matches)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class EpisodeError(TraceFixError):
    """The environment was used out of order."""


class ResetNeededError(EpisodeError):
    """``step`` was called before ``reset``."""


class SessionClosedError(EpisodeError):
    """The environment (a server session) was closed, for example by the idle-session reaper."""


class ResetArgumentError(EpisodeError, ValueError):
    """A ``reset`` argument is invalid; nothing changed (the previous episode goes on as it was).

    ``field`` names the offending argument.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"reset argument {field!r}: {message}")
        self.field = field


class UnknownArgumentError(ResetArgumentError, TypeError):
    """``reset`` got a keyword argument it does not know (``field`` names it)."""


class EpisodeIdInUseError(ResetArgumentError):
    """The requested ``episode_id`` is already recorded; episode ids are never shared."""


class SandboxError(TraceFixError):
    """The sandbox was misused or its infrastructure failed."""


class SandboxStartError(SandboxError):
    """The sandbox could not start (no usable isolation, fork-server died, ...)."""


class TraceError(TraceFixError):
    """A trace could not be produced."""


class TrajectoryError(TraceFixError):
    """A trajectory store or file is unusable."""


class ReplayError(TrajectoryError):
    """A recorded episode cannot be replayed (missing, or built by an incompatible version)."""


class EvaluationError(TraceFixError):
    """An evaluation cannot run as asked (an output directory in the way, a resume that does
    not match the earlier run, unreadable results)."""
