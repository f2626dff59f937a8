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
    │   ├── SessionLostError
    │   └── ResetArgumentError            (also a ValueError)
    │       ├── UnknownArgumentError      (also a TypeError)
    │       └── EpisodeIdInUseError
    ├── SandboxError
    │   └── SandboxStartError
    ├── TraceError
    ├── TrajectoryError
    │   └── ReplayError
    ├── EvaluationError
    └── PoolError
"""

from __future__ import annotations

__all__ = [
    "EpisodeError",
    "EpisodeIdInUseError",
    "EvaluationError",
    "PoolError",
    "ReplayError",
    "ResetArgumentError",
    "ResetNeededError",
    "SandboxError",
    "SandboxStartError",
    "SessionClosedError",
    "SessionLostError",
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


class SessionLostError(EpisodeError):
    """The host that ran a session (a Ray actor of a pool, or a server) died or became
    unreachable, so the session and its unfinished episode are gone; open a new session.

    ``session_id`` and ``host`` name them. Steps returned before the loss were recorded by
    that host and stay in its trajectory store.
    """

    def __init__(self, message: str, *, session_id: str | None = None, host: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.host = host

    def __reduce__(self) -> tuple[object, ...]:  # pickles across processes (Ray, multiprocessing)
        return (_rebuild, (type(self), (str(self),), {"session_id": self.session_id, "host": self.host}))


class ResetArgumentError(EpisodeError, ValueError):
    """A ``reset`` argument is invalid; nothing changed (the previous episode goes on as it was).

    ``field`` names the offending argument.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"reset argument {field!r}: {message}")
        self.field = field
        self.detail = message

    def __reduce__(self) -> tuple[object, ...]:  # pickles across processes (Ray, multiprocessing)
        return (type(self), (self.field, self.detail))


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


class PoolError(TraceFixError):
    """A pool of environments cannot serve a request: no host is alive, a host does not start
    (its resources are not in the cluster) or does not answer in time, or a host is full."""


def _rebuild(cls: type[BaseException], args: tuple[object, ...], kwargs: dict[str, object]) -> BaseException:
    return cls(*args, **kwargs)
