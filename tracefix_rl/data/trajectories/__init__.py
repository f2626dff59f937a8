"""The trajectory store: one SQLite file of recorded episodes, its recorder, export and import.

:class:`SQLiteRecorder` implements :class:`~tracefix_rl.core.trajectory.Recorder`; apply it with
:class:`~tracefix_rl.env.RecordEpisodes` (the CLI, the server, ``tracefix eval`` and the
integrations do). Each step is committed durably before its observation is returned, and the
store keeps the complete observation of every step. :func:`export_episodes` /
:func:`import_episodes` move episodes to and from JSONL (and Parquet) files that load in pandas
and Hugging Face ``datasets`` as they are. Verified replay lives in the environment layer
(:func:`tracefix_rl.env.replay.replay`), the security flags in
:mod:`tracefix_rl.engines.flags`.

Public surface: :class:`SQLiteRecorder`, :class:`TrajectoryStore`, :func:`default_recorder`,
:func:`default_db_path`, :func:`recorder_for`, :func:`export_episodes`, :func:`import_episodes`,
:func:`read_records`, :func:`observation_snapshot`, :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracefix_rl.data.trajectories._export import (
        export_episodes,
        import_episodes,
        normalize_record,
        read_records,
        selected_episode_ids,
    )
    from tracefix_rl.data.trajectories._recorder import (
        SQLiteRecorder,
        default_db_path,
        default_recorder,
        recorder_for,
    )
    from tracefix_rl.data.trajectories._store import SCHEMA_VERSION, TrajectoryStore, observation_snapshot

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteRecorder",
    "TrajectoryStore",
    "default_db_path",
    "default_recorder",
    "export_episodes",
    "import_episodes",
    "normalize_record",
    "observation_snapshot",
    "read_records",
    "recorder_for",
    "selected_episode_ids",
]

_LAZY = {
    "export_episodes": "_export", "import_episodes": "_export", "read_records": "_export",
    "normalize_record": "_export", "selected_episode_ids": "_export",
    "SQLiteRecorder": "_recorder", "default_db_path": "_recorder", "default_recorder": "_recorder",
    "recorder_for": "_recorder",
    "SCHEMA_VERSION": "_store", "TrajectoryStore": "_store", "observation_snapshot": "_store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracefix_rl.data.trajectories' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tracefix_rl.data.trajectories.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
