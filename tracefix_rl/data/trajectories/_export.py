"""Export and import episodes: JSONL (one episode per line) and Parquet (one episode per row).

Both files load without custom code: ``pandas.read_json(path, lines=True)``,
``pandas.read_parquet(path)``, ``datasets.load_dataset("json", data_files=path)`` and
``datasets.load_dataset("parquet", data_files=path)``. Both replay as they are
(``tracefix replay --file PATH`` / :func:`~tracefix_rl.env.replay.replay_record`) and import
back into a store losslessly.

Schema ``tracefix-episode/2`` (JSONL; every line has every key, in this order)::

    schema              "tracefix-episode/2"
    episode_id          str      (OpenEnv EpisodeRecord key)
    task                str      task name (EpisodeRecord key; same as task_name)
    task_name, task_hash, difficulty, seed (int), variant (int)
    package_version, python_version, isolation
    manifest            object   everything replay needs (format, task hash, seed, variant,
                                 max_steps, reward_config, limits, env_config, visible_tests, ...)
    initial_observation_hash  str  hash of the observation returned by reset
    initial_snapshot    object   its field-level snapshot
    start_time, end_time      float Unix seconds; end_time null if the episode never ended
    duration_seconds    float|null
    final_score         float|null  null if the episode never ended
    reward              float|null  = final_score (EpisodeRecord key)
    done                bool     (EpisodeRecord key)
    end_reason          "submitted" | "step_budget" | null
    total_steps (int), cumulative_reward (float), flag_count (int)
    initial_observation object|null  the complete observation reset returned (CodeObservation
                                 fields; null if the store predates schema 2)
    steps               list of objects, in step order:
        step (int), timestamp (float), action_type (str),
        action            object  the full CodeAction (thought, action_type, start_line,
                                  end_line, new_code_block, test_name, trace_format)
        observation_hash  str     sha256 of the observation (see env.observation_hash)
        snapshot          object  scalar observation fields + digests of the large ones
        reward (float), cumulative_reward (float), done (bool), error (str|null)
        reward_breakdown  list of {"term": str, "value": float}  (a list, not a dict, so
                                  every row has the same type for Arrow/datasets)
        diff (str)        unified diff of the program made by this step ("" if none)
        pass_rate         float|null  visible pass rate if this step ran tests
        test_results      list of per-test objects (TestResult fields) if tests ran
        duration_ms (float)
        security_flags    list of {"code", "severity", "line", "detail"}
        extra             object  {hidden_passed, hidden_total, end_reason, isolation}
        observation       object|null  the complete observation the agent was shown after this
                                  step (CodeObservation fields; ``code_dict`` keys are strings)

Parquet has the same columns, except that free-form objects are JSON text, so the Arrow
schema is fixed: ``manifest_json``, ``initial_snapshot_json``, ``initial_observation_json`` and,
per step, ``action_json``, ``snapshot_json``, ``test_results_json``, ``extra_json``,
``observation_json`` replace the objects of the same names. Files of schema
``tracefix-episode/1`` (no observations) still read, replay and import. ``pyarrow`` is
needed only for Parquet and is imported lazily.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import TrajectoryError
from tracefix_rl.data.trajectories._store import TrajectoryStore

__all__ = ["SCHEMA", "export_episodes", "import_episodes", "normalize_record", "read_records",
           "selected_episode_ids", "to_export"]

SCHEMA = "tracefix-episode/2"

_TOP = ("episode_id", "task", "task_name", "task_hash", "difficulty", "seed", "variant", "package_version",
        "python_version", "isolation", "manifest", "initial_observation_hash", "initial_snapshot", "start_time",
        "end_time", "duration_seconds", "final_score", "reward", "done", "end_reason", "total_steps",
        "cumulative_reward", "flag_count", "initial_observation")
_STEP = ("step", "timestamp", "action_type", "action", "observation_hash", "snapshot", "reward",
         "cumulative_reward", "done", "error", "reward_breakdown", "diff", "pass_rate", "test_results",
         "duration_ms", "security_flags", "extra", "observation")
_JSON_TOP = ("manifest", "initial_snapshot", "initial_observation")
_JSON_STEP = ("action", "snapshot", "test_results", "extra", "observation")


def to_export(record: dict[str, Any]) -> dict[str, Any]:
    """A stored episode record (:meth:`TrajectoryStore.load_episode`) in JSONL line form."""
    out: dict[str, Any] = {"schema": SCHEMA}
    for k in _TOP:
        out[k] = record.get(k)
    out["task"] = record.get("task_name")
    out["reward"] = record.get("final_score")
    out["done"] = bool(record.get("done"))
    out["steps"] = []
    for s in record["steps"]:
        step = {k: s.get(k) for k in _STEP}
        step["reward_breakdown"] = [{"term": t, "value": float(v)} for t, v in sorted(s["reward_breakdown"].items())]
        step["done"] = bool(s.get("done"))
        out["steps"].append(step)
    return out


def normalize_record(record: dict[str, Any]) -> dict[str, Any]:
    """Any record form (store, JSONL line, Parquet row) in the store's form: JSON text decoded,
    ``reward_breakdown`` a dict. Raises :class:`TrajectoryError` if it is not an episode."""
    if not isinstance(record, dict) or "steps" not in record or not ("manifest" in record or
                                                                     "manifest_json" in record):
        raise TrajectoryError("not a TraceFix-RL episode record (needs 'manifest' and 'steps')")
    rec = dict(record)
    for k in _JSON_TOP:
        if k + "_json" in rec:
            text = rec.pop(k + "_json")
            rec[k] = json.loads(text) if text else {}
    steps = []
    for s in rec["steps"]:
        s = dict(s)
        for k in _JSON_STEP:
            if k + "_json" in s:
                text = s.pop(k + "_json")
                s[k] = json.loads(text) if text else None
        rb = s.get("reward_breakdown")
        if isinstance(rb, list):
            s["reward_breakdown"] = {item["term"]: item["value"] for item in rb}
        elif rb is None:
            s["reward_breakdown"] = {}
        s.setdefault("security_flags", [])
        s["security_flags"] = list(s["security_flags"] or [])
        s.setdefault("test_results", [])
        s["test_results"] = list(s["test_results"] or [])
        s.setdefault("extra", {})
        s.setdefault("snapshot", {})
        s.setdefault("timestamp", rec.get("start_time") or 0.0)
        s.setdefault("duration_ms", 0.0)
        s.setdefault("diff", "")
        s.setdefault("action_type", (s.get("action") or {}).get("action_type", ""))
        steps.append(s)
    rec["steps"] = steps
    manifest = rec["manifest"]
    rec.setdefault("episode_id", manifest.get("episode_id"))
    for k in ("task_name", "task_hash", "difficulty", "seed", "variant", "package_version", "python_version",
              "isolation"):
        if rec.get(k) is None:
            rec[k] = manifest.get(k)
    if rec.get("start_time") is None:
        rec["start_time"] = time.time()
    return rec


def _parquet_row(line: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in line.items() if k not in _JSON_TOP and k != "steps"}
    for k in _JSON_TOP:
        row[k + "_json"] = json.dumps(line[k], sort_keys=True)
    row["steps"] = []
    for s in line["steps"]:
        step = {k: v for k, v in s.items() if k not in _JSON_STEP}
        for k in _JSON_STEP:
            step[k + "_json"] = json.dumps(s[k], sort_keys=True)
        row["steps"].append(step)
    return row


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise TrajectoryError("Parquet needs pyarrow: pip install 'tracefix-rl[data]' (or pip install pyarrow); "
                              "JSONL works without it") from exc
    return pyarrow


def _parquet_schema(pa: Any) -> Any:
    flag = pa.struct([("code", pa.string()), ("severity", pa.string()), ("line", pa.int64()),
                      ("detail", pa.string())])
    term = pa.struct([("term", pa.string()), ("value", pa.float64())])
    step = pa.struct([
        ("step", pa.int64()), ("timestamp", pa.float64()), ("action_type", pa.string()),
        ("action_json", pa.string()), ("observation_hash", pa.string()), ("snapshot_json", pa.string()),
        ("reward", pa.float64()), ("cumulative_reward", pa.float64()), ("done", pa.bool_()),
        ("error", pa.string()), ("reward_breakdown", pa.list_(term)), ("diff", pa.string()),
        ("pass_rate", pa.float64()), ("test_results_json", pa.string()), ("duration_ms", pa.float64()),
        ("security_flags", pa.list_(flag)), ("extra_json", pa.string()), ("observation_json", pa.string()),
    ])
    return pa.schema([
        ("schema", pa.string()), ("episode_id", pa.string()), ("task", pa.string()), ("task_name", pa.string()),
        ("task_hash", pa.string()), ("difficulty", pa.string()), ("seed", pa.int64()), ("variant", pa.int64()),
        ("package_version", pa.string()), ("python_version", pa.string()), ("isolation", pa.string()),
        ("manifest_json", pa.string()), ("initial_observation_hash", pa.string()),
        ("initial_snapshot_json", pa.string()), ("start_time", pa.float64()), ("end_time", pa.float64()),
        ("duration_seconds", pa.float64()), ("final_score", pa.float64()), ("reward", pa.float64()),
        ("done", pa.bool_()), ("end_reason", pa.string()), ("total_steps", pa.int64()),
        ("cumulative_reward", pa.float64()), ("flag_count", pa.int64()), ("initial_observation_json", pa.string()),
        ("steps", pa.list_(step)),
    ])


def _format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("jsonl", "parquet"):
            raise TrajectoryError(f"unknown format {fmt!r}: use jsonl or parquet")
        return fmt
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "jsonl"


def selected_episode_ids(store: TrajectoryStore, episode_ids: Iterable[str] | None = None,
                         **filters: Any) -> list[str]:
    """``episode_ids`` as given, or else every stored episode matching ``filters`` (those of
    :meth:`TrajectoryStore.list_episodes`), oldest first."""
    if episode_ids is not None:
        return list(episode_ids)
    filters.setdefault("limit", None)
    return [e["episode_id"] for e in reversed(store.list_episodes(**filters))]


def export_episodes(db: str | os.PathLike[str] | TrajectoryStore, path: str | os.PathLike[str], *,
                    fmt: str | None = None, episode_ids: Iterable[str] | None = None,
                    **filters: Any) -> int:
    """Write episodes from a store to ``path`` (JSONL, or Parquet if ``fmt="parquet"`` or the
    suffix is ``.parquet``); returns how many. Without ``episode_ids``, exports every episode
    matching ``filters`` (those of :meth:`TrajectoryStore.list_episodes`), oldest first."""
    store = db if isinstance(db, TrajectoryStore) else TrajectoryStore(db)
    out = Path(path)
    kind = _format(out, fmt)
    ids = selected_episode_ids(store, episode_ids, **filters)
    lines = (to_export(store.load_episode(eid)) for eid in ids)
    if kind == "parquet":
        pa = _pyarrow()
        table = pa.Table.from_pylist([_parquet_row(line) for line in lines], schema=_parquet_schema(pa))
        pa.parquet.write_table(table, str(out))
    else:
        with out.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(ids)


def read_records(path: str | os.PathLike[str], *, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield the episode records of an exported file, in the store's form (see
    :func:`normalize_record`); each can be passed to ``replay_record`` or imported."""
    src = Path(path)
    if not src.exists():
        raise TrajectoryError(f"no such file: {src}")
    if _format(src, fmt) == "parquet":
        pa = _pyarrow()
        for row in pa.parquet.read_table(str(src)).to_pylist():
            yield normalize_record(row)
        return
    with src.open(encoding="utf-8") as fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TrajectoryError(f"{src}:{n}: not JSON: {exc}") from None
            yield normalize_record(data)


def import_episodes(path: str | os.PathLike[str], db: str | os.PathLike[str] | TrajectoryStore, *,
                    fmt: str | None = None, on_conflict: str = "error") -> list[str]:
    """Store every episode of an exported file in ``db``; returns the imported ids.

    ``on_conflict`` decides what happens to an id that is already stored: ``"error"``
    (raise :class:`TrajectoryError`), ``"skip"`` or ``"replace"``.
    """
    if on_conflict not in ("error", "skip", "replace"):
        raise ValueError(f"on_conflict must be error, skip or replace, got {on_conflict!r}")
    store = db if isinstance(db, TrajectoryStore) else TrajectoryStore(db)
    done = []
    for rec in read_records(path, fmt=fmt):
        if on_conflict == "skip" and store.has_episode(rec["episode_id"]):
            continue
        done.append(store.import_record(rec, replace=on_conflict == "replace"))
    return done
