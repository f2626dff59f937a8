"""The recorder the environment calls: :class:`SQLiteRecorder` and the process-wide default."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from tracefix_rl.env._core import StepRecord, observation_hash
from tracefix_rl.models import CodeObservation
from tracefix_rl.trajectory._flags import scan_edit
from tracefix_rl.trajectory._store import TrajectoryStore, observation_snapshot

__all__ = ["SQLiteRecorder", "default_db_path", "default_recorder"]


class SQLiteRecorder(TrajectoryStore):
    """Implements the environment's ``Recorder`` protocol on a :class:`TrajectoryStore`.

    ``start_episode`` stores the manifest and the initial observation's hash and snapshot;
    ``record_step`` stores the full action (``thought``, ``new_code_block``, ...), the
    observation hash and snapshot, every reward term, cumulative reward, done, error, the
    unified diff, pass rate and per-test results, duration and the edit's security flags
    (:mod:`tracefix_rl.trajectory._flags`), and returns only once the step is committed
    durably; ``end_episode`` stores the final score, end reason and end time. One recorder may
    serve many environments (threads) at once, and many processes may record into one file.
    A write failure raises :class:`~tracefix_rl.errors.TrajectoryError` (so ``step`` fails
    loudly instead of returning an unrecorded observation).
    """

    def __init__(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._episodes: dict[str, _Open] = {}
        self._map_lock = threading.Lock()

    def start_episode(self, manifest: dict[str, Any], observation: CodeObservation) -> None:
        """Store a new episode (its manifest and initial observation)."""
        stored = self.insert_episode(manifest, observation_hash(observation), observation_snapshot(observation))
        tests = manifest.get("visible_tests") or _visible_tests(manifest)
        with self._map_lock:
            self._episodes[str(manifest["episode_id"])] = _Open(
                stored, [t["call"] for t in tests], [t["name"] for t in tests])

    def record_step(self, record: StepRecord) -> None:
        """Store one step durably (committed and synced) before returning."""
        with self._map_lock:
            ep = self._episodes.get(record.episode_id)
        stored = ep.stored_id if ep else record.episode_id
        action = record.action
        flags: list[dict[str, Any]] = []
        if action.get("action_type") == "REPLACE_LINES" and action.get("new_code_block") and record.error is None:
            flags = [f.to_dict() for f in scan_edit(record.code_after, action["new_code_block"],
                                                    action.get("start_line"), ep.calls if ep else (),
                                                    ep.names if ep else ())]
        extra = dict(record.extra)
        self.insert_step({
            "episode_id": stored, "step": record.step, "timestamp": time.time(),
            "action_type": action.get("action_type", ""), "action": action,
            "observation_hash": record.observation_hash, "snapshot": observation_snapshot(record.observation),
            "reward": record.reward, "reward_breakdown": record.reward_breakdown,
            "cumulative_reward": record.cumulative_reward, "done": record.done, "error": record.error,
            "diff": record.diff, "pass_rate": record.pass_rate, "test_results": record.test_results,
            "duration_ms": round(record.duration_ms, 3), "security_flags": flags, "extra": extra,
        })

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None:
        """Store the episode's final score and end reason."""
        with self._map_lock:
            ep = self._episodes.pop(episode_id, None)
        self.finish_episode(ep.stored_id if ep else episode_id, final_score, end_reason)


class _Open:
    __slots__ = ("calls", "names", "stored_id")

    def __init__(self, stored_id: str, calls: list[str], names: list[str]) -> None:
        self.stored_id, self.calls, self.names = stored_id, calls, names


def _visible_tests(manifest: dict[str, Any]) -> list[dict[str, str]]:
    # Manifests without "visible_tests": use the registry task if it is the recorded one.
    from tracefix_rl.tasks import get_task

    try:
        task = get_task(str(manifest.get("task_name")))
    except Exception:
        return []
    if task.content_hash != manifest.get("task_hash"):
        return []
    return [{"name": t.name, "call": t.describe_call()} for t in task.tests]


def default_db_path() -> Path:
    """``$TRACEFIX_DB`` if set, else ``~/.cache/tracefix-rl/trajectories.sqlite3``."""
    env = os.environ.get("TRACEFIX_DB")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tracefix-rl" / "trajectories.sqlite3"


_defaults: dict[Path, SQLiteRecorder] = {}
_defaults_lock = threading.Lock()


def default_recorder() -> SQLiteRecorder | None:
    """The process-wide recorder at :func:`default_db_path`, or None if ``TRACEFIX_RECORD=0``.

    ``TRACEFIX_DB_SYNC`` (``NORMAL`` by default, or ``FULL``) picks the durability level.

    The environment variables are read at every call; one recorder per path is created and
    then shared by every environment of the process.
    """
    if os.environ.get("TRACEFIX_RECORD", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    path = default_db_path().resolve()
    with _defaults_lock:
        rec = _defaults.get(path)
        if rec is None:
            sync = os.environ.get("TRACEFIX_DB_SYNC", "NORMAL")
            rec = _defaults[path] = SQLiteRecorder(path, synchronous=sync)
        return rec
