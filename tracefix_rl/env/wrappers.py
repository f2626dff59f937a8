"""Wrappers around :class:`~tracefix_rl.env.TraceFixEnvironment`, in the manner of Gymnasium's.

A wrapper holds an environment (``env``), forwards everything it does not override to it, and
adds one concern. :class:`RecordEpisodes` is the one that matters: it records every episode
into a :class:`~tracefix_rl.core.trajectory.Recorder` (the SQLite trajectory store, usually),
and keeps the environment's promise that a step is recorded and applied together or not at
all. The CLI, the server, ``tracefix eval`` and the training integrations record by default;
a library user opts in::

    env = RecordEpisodes(TraceFixEnvironment(), SQLiteRecorder("runs.sqlite3"))
    # or: env = make_env(record="runs.sqlite3")

``repr`` shows the stack: ``<RecordEpisodes<TraceFixEnvironment>>``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tracefix_rl.core.errors import TraceFixError, TrajectoryError
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.core.trajectory import Recorder
from tracefix_rl.env._environment import TraceFixEnvironment

__all__ = ["RecordEpisodes", "Wrapper", "make_env"]

log = logging.getLogger(__name__)


class Wrapper:
    """Forwards ``reset``, ``step``, ``close`` and every attribute to the wrapped environment.

    Subclasses override the calls they change. ``unwrapped`` is the innermost environment.
    """

    def __init__(self, env: TraceFixEnvironment | Wrapper) -> None:
        self.env = env

    def reset(self, **kwargs: Any) -> CodeObservation:
        """Start an episode (see :meth:`TraceFixEnvironment.reset`)."""
        return self.env.reset(**kwargs)

    def step(self, action: CodeAction) -> CodeObservation:
        """Apply one action (see :meth:`TraceFixEnvironment.step`)."""
        return self.env.step(action)

    def close(self) -> None:
        """Close the wrapped environment. Idempotent."""
        self.env.close()

    @property
    def unwrapped(self) -> TraceFixEnvironment:
        """The innermost :class:`TraceFixEnvironment`."""
        return self.env.unwrapped

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def __enter__(self) -> Wrapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}{self.env!r}>"


class RecordEpisodes(Wrapper):
    """Record every episode of ``env`` into ``recorder``; a step is recorded and applied together.

    * ``reset``: the new episode is stored (manifest and first observation) before it is
      returned; if the recorder fails, the environment goes back to the episode it had, and
      :class:`~tracefix_rl.core.errors.TrajectoryError` is raised.
    * ``step``: the step is stored durably before its observation is returned; if the recorder
      fails, the environment is restored to its state before the action and the observation
      says so (``infra_error``, ``last_action_error``: the step was not taken, retry it).
    * An unfinished episode that is abandoned (a new ``reset``, ``close``) is released, so the
      recorder keeps nothing for it.
    """

    def __init__(self, env: TraceFixEnvironment | Wrapper, recorder: Recorder) -> None:
        if not callable(getattr(recorder, "record_step", None)):
            raise TypeError(f"RecordEpisodes needs a Recorder (e.g. SQLiteRecorder), got {type(recorder).__name__}")
        super().__init__(env)
        self.recorder = recorder

    def reset(self, **kwargs: Any) -> CodeObservation:
        """Start and record an episode (see the class docstring)."""
        inner = self.unwrapped
        previous = inner.unfinished_episode_id
        checkpoint = inner.checkpoint()
        obs = self.env.reset(**kwargs)
        try:
            self.recorder.start_episode(inner.manifest(), obs)
        except Exception as exc:
            inner.restore(checkpoint)
            if isinstance(exc, TraceFixError):
                raise
            raise TrajectoryError(f"the episode could not be recorded ({type(exc).__name__}: {exc}); "
                                  "nothing changed") from exc
        if previous is not None:
            self._release(previous)
        return obs

    def step(self, action: CodeAction) -> CodeObservation:
        """Apply and record one action (see the class docstring)."""
        inner = self.unwrapped
        checkpoint = inner.checkpoint() if inner.unfinished_episode_id is not None else None
        obs = self.env.step(action)
        record = inner.last_step_record()
        if checkpoint is None or record is None:
            return obs  # nothing happened to the episode (before reset, after the end)
        try:
            self.recorder.record_step(record)
        except Exception as exc:
            inner.restore(checkpoint)
            return inner.refused_observation(f"the step could not be recorded ({type(exc).__name__}: {exc}); "
                                             "it was not applied (the episode is as it was before this action), "
                                             "retry it")
        if obs.done:  # the step is durable; failing to store the ending must not undo it
            try:
                self.recorder.end_episode(obs.episode_id, obs.final_score, obs.end_reason)
            except Exception as exc:
                log.warning("could not store the end of episode %s: %s", obs.episode_id, exc)
        return obs

    def close(self) -> None:
        """Release an unfinished episode, then close the environment. Idempotent."""
        episode = self.unwrapped.unfinished_episode_id
        if episode is not None:
            self._release(episode)
        self.env.close()

    def _release(self, episode_id: str) -> None:
        release = getattr(self.recorder, "release_episode", None)
        if release is not None:
            release(episode_id)


def make_env(*, record: str | os.PathLike[str] | Recorder | bool = False, **kwargs: Any
             ) -> TraceFixEnvironment | RecordEpisodes:
    """A :class:`TraceFixEnvironment` (keyword arguments as its constructor), recorded if asked.

    ``record`` is a path of a trajectory store, a :class:`~tracefix_rl.core.trajectory.Recorder`,
    ``True`` for the default store (:func:`~tracefix_rl.data.trajectories.default_db_path`), or
    ``False`` (the default) for no recording.
    """
    env = TraceFixEnvironment(**kwargs)
    if record is False or record is None:
        return env
    if record is True or isinstance(record, str | os.PathLike):
        from tracefix_rl.data.trajectories import default_db_path, recorder_for

        recorder: Recorder = recorder_for(default_db_path() if record is True else record)
    else:
        recorder = record
    return RecordEpisodes(env, recorder)
