"""Trajectory recording, verified deterministic replay, security flags, export and import.

Every episode of a :class:`~tracefix_rl.env.TraceFixEnvironment` is recorded by default into an
embedded SQLite file (:func:`default_recorder`; ``$TRACEFIX_DB``, off with ``TRACEFIX_RECORD=0``
or ``EnvConfig(record=False)``). Each step is committed durably before its observation is
returned. :func:`replay` re-runs an episode's recorded actions in a fresh environment built
from its manifest and checks every step's observation hash, rewards and done flag, and the
final score. :func:`export_episodes` / :func:`import_episodes` move episodes to and from JSONL
(and Parquet) files that load in pandas and Hugging Face ``datasets`` as they are;
:func:`merge_stores` combines stores (one per pool host) into one.

Public surface: :class:`SQLiteRecorder`, :class:`TrajectoryStore`, :func:`default_recorder`,
:func:`default_db_path`, :func:`replay`, :func:`replay_record`, :class:`ReplayReport`,
:func:`export_episodes`, :func:`import_episodes`, :func:`read_records`, :func:`merge_stores`,
:class:`MergeReport`, :func:`scan_edit`,
:class:`SecurityFlag`, :data:`FLAG_CODES`, :func:`observation_snapshot`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracefix_rl.trajectory._export import export_episodes, import_episodes, read_records
    from tracefix_rl.trajectory._flags import FLAG_CODES, SecurityFlag, scan_edit
    from tracefix_rl.trajectory._merge import MergeReport, merge_stores
    from tracefix_rl.trajectory._recorder import SQLiteRecorder, default_db_path, default_recorder
    from tracefix_rl.trajectory._replay import ReplayReport, replay, replay_record
    from tracefix_rl.trajectory._store import SCHEMA_VERSION, TrajectoryStore, observation_snapshot

__all__ = [
    "FLAG_CODES",
    "SCHEMA_VERSION",
    "MergeReport",
    "ReplayReport",
    "SQLiteRecorder",
    "SecurityFlag",
    "TrajectoryStore",
    "default_db_path",
    "default_recorder",
    "export_episodes",
    "import_episodes",
    "merge_stores",
    "observation_snapshot",
    "read_records",
    "replay",
    "replay_record",
    "scan_edit",
]

_LAZY = {
    "export_episodes": "_export", "import_episodes": "_export", "read_records": "_export",
    "FLAG_CODES": "_flags", "SecurityFlag": "_flags", "scan_edit": "_flags",
    "MergeReport": "_merge", "merge_stores": "_merge",
    "SQLiteRecorder": "_recorder", "default_db_path": "_recorder", "default_recorder": "_recorder",
    "ReplayReport": "_replay", "replay": "_replay", "replay_record": "_replay",
    "SCHEMA_VERSION": "_store", "TrajectoryStore": "_store", "observation_snapshot": "_store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracefix_rl.trajectory' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tracefix_rl.trajectory.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
