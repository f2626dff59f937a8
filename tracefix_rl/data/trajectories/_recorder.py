"""The recorder the environment calls: :class:`SQLiteRecorder` and the process-wide default."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from tracefix_rl.core.models import CodeObservation
from tracefix_rl.core.trajectory import StepRecord, observation_hash
from tracefix_rl.data.trajectories._store import TrajectoryStore, snapshot_and_blob
from tracefix_rl.engines.flags import scan_edit

__all__ = ["SQLiteRecorder", "default_db_path", "default_recorder", "recorder_for"]


class SQLiteRecorder(TrajectoryStore):
    """Implements the environment's ``Recorder`` protocol on a :class:`TrajectoryStore`.

    ``start_episode`` stores the manifest and the initial observation (complete, plus its hash
    and snapshot); ``record_step`` stores the full action (``thought``, ``new_code_block``,
    ...), the complete observation (compressed), its hash and snapshot, every reward term,
    cumulative reward, done, error, the unified diff, pass rate and per-test results, duration
    and the edit's security flags (:mod:`tracefix_rl.engines.flags`), and returns only
    once the step is committed durably; the last step of an episode also stores its final
    score and end reason in the same transaction. One recorder may serve many environments
    (threads) at once, and many processes may record into one file. A write failure raises
    :class:`~tracefix_rl.core.errors.TrajectoryError` (the environment then undoes the step), and
    an ``episode_id`` that is already stored raises
    :class:`~tracefix_rl.core.errors.EpisodeIdInUseError`.

    Memory is bounded: the recorder keeps only the visible test calls of episodes in progress
    (for the security flags), drops them when an episode ends or is released
    (``release_episode``: abandoned, closed, reaped), and keeps at most
    :attr:`MAX_OPEN_EPISODES` of them, reading an evicted one back from the store.

    ``agent`` labels every episode this recorder starts (a model or policy name; the trajectory
    viewer filters by it); ``None`` keeps the manifest's ``"agent"``, if any.
    """

    #: Episodes in progress whose test calls are kept in memory (older ones are re-read on demand).
    MAX_OPEN_EPISODES = 1024

    def __init__(self, path: str | os.PathLike[str], *, agent: str | None = None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.agent = agent
        self._episodes: OrderedDict[str, _Open] = OrderedDict()
        self._map_lock = threading.Lock()

    def start_episode(self, manifest: dict[str, Any], observation: CodeObservation, *,
                      owner: str | None = None) -> None:
        """Store a new episode (its manifest and complete initial observation) for ``owner``."""
        dumped = observation.model_dump(mode="json")
        snapshot, blob = snapshot_and_blob(dumped)
        eid = self.insert_episode(manifest, observation_hash(dumped), snapshot, owner=owner,
                                  initial_observation=blob, agent=self.agent)
        self._remember(eid, _open_from_manifest(manifest))

    def record_step(self, record: StepRecord) -> None:
        """Store one step durably (committed and synced) before returning."""
        action = record.action
        flags: list[dict[str, Any]] = []
        if action.get("action_type") == "REPLACE_LINES" and action.get("new_code_block") and record.error is None:
            ep = self._open(record.episode_id)
            flags = [f.to_dict() for f in scan_edit(record.code_after, action["new_code_block"],
                                                    action.get("start_line"), ep.calls, ep.names)]
        dumped = record.observation_json
        snapshot, blob = snapshot_and_blob(dumped if dumped is not None else record.observation.model_dump(mode="json"))
        row: dict[str, Any] = {
            "episode_id": record.episode_id, "step": record.step, "timestamp": time.time(),
            "action_type": action.get("action_type", ""), "action": action,
            "observation_hash": record.observation_hash, "snapshot": snapshot,
            "reward": record.reward, "reward_breakdown": record.reward_breakdown,
            "cumulative_reward": record.cumulative_reward, "done": record.done, "error": record.error,
            "diff": record.diff, "pass_rate": record.pass_rate, "test_results": record.test_results,
            "duration_ms": round(record.duration_ms, 3), "security_flags": flags, "extra": dict(record.extra),
            "observation": blob,
        }
        if record.done:
            row["final_score"] = record.observation.final_score
            row["end_reason"] = record.extra.get("end_reason")
        self.insert_step(row)
        if record.done:
            with self._map_lock:
                current = self._episodes.get(record.episode_id)
                if current is not None:
                    current.finished = True

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None:
        """Store the episode's final score and end reason (already done if its last step said so)."""
        with self._map_lock:
            ep = self._episodes.pop(episode_id, None)
        if ep is None or not ep.finished:
            self.finish_episode(episode_id, final_score, end_reason)

    def release_episode(self, episode_id: str) -> None:
        """Forget what is kept in memory about an episode that will get no more steps (idempotent)."""
        with self._map_lock:
            self._episodes.pop(episode_id, None)

    @property
    def open_episodes(self) -> int:
        """How many episodes in progress the recorder keeps in memory (bounded)."""
        with self._map_lock:
            return len(self._episodes)

    def _remember(self, episode_id: str, ep: _Open) -> None:
        with self._map_lock:
            self._episodes[episode_id] = ep
            self._episodes.move_to_end(episode_id)
            while len(self._episodes) > self.MAX_OPEN_EPISODES:
                self._episodes.popitem(last=False)

    def _open(self, episode_id: str) -> _Open:
        with self._map_lock:
            ep = self._episodes.get(episode_id)
        if ep is None:  # evicted (or recorded by another process): read the manifest back
            rows = self._query("SELECT manifest FROM episodes WHERE episode_id=?", (episode_id,))
            ep = _open_from_manifest(json.loads(rows[0]["manifest"]) if rows else {})
            if rows:
                self._remember(episode_id, ep)
        return ep


class _Open:
    __slots__ = ("calls", "finished", "names")

    def __init__(self, calls: list[str], names: list[str]) -> None:
        self.calls, self.names, self.finished = calls, names, False


def _open_from_manifest(manifest: dict[str, Any]) -> _Open:
    tests = manifest.get("visible_tests") or (_visible_tests(manifest) if manifest else [])
    return _Open([t["call"] for t in tests], [t["name"] for t in tests])


def _visible_tests(manifest: dict[str, Any]) -> list[dict[str, str]]:
    # Manifests without "visible_tests": use the registry task if it is the recorded one.
    from tracefix_rl.data.tasks import get_task

    try:
        task = get_task(str(manifest.get("task_name")))
    except Exception:
        return []
    if task.content_hash != manifest.get("task_hash"):
        return []
    return [{"name": t.name, "call": t.describe_call()} for t in task.tests]


def default_db_path() -> Path:
    """``$TRACEFIX_DB`` if set, else ``.tracefix/trajectories.sqlite3`` in the current directory
    (runs belong to the project they were made in, not to a machine-wide file)."""
    env = os.environ.get("TRACEFIX_DB")
    return Path(env).expanduser() if env else Path(".tracefix") / "trajectories.sqlite3"


_defaults: dict[Path, SQLiteRecorder] = {}
_defaults_lock = threading.Lock()


def recorder_for(path: str | os.PathLike[str]) -> SQLiteRecorder:
    """The process-wide :class:`SQLiteRecorder` of the store at ``path``: one per file, shared by
    every environment and thread of the process (it batches their commits).

    ``TRACEFIX_DB_SYNC`` (``NORMAL`` by default, or ``FULL``) picks the durability level of a
    recorder when it is first created.
    """
    resolved = Path(path).expanduser().resolve()
    with _defaults_lock:
        rec = _defaults.get(resolved)
        if rec is None:
            sync = os.environ.get("TRACEFIX_DB_SYNC", "NORMAL")
            rec = _defaults[resolved] = SQLiteRecorder(resolved, synchronous=sync)
        return rec


def default_recorder() -> SQLiteRecorder | None:
    """The recorder of :func:`default_db_path` (:func:`recorder_for`), or ``None`` if
    ``TRACEFIX_RECORD=0``. The environment variables are read at every call."""
    if os.environ.get("TRACEFIX_RECORD", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return recorder_for(default_db_path())
