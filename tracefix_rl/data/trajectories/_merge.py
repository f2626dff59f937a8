"""Combine trajectory stores: :func:`merge_stores` (``tracefix trajectories merge``).

Each pool host records into its own SQLite file on its own node, because one SQLite file must
never be shared over a network filesystem; once the files are copied to one machine, merging
puts every episode into one store, record by record, losslessly (steps, full observations,
manifests), so the merged store replays exactly as the sources do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracefix_rl.core.errors import TrajectoryError
from tracefix_rl.data.trajectories._store import TrajectoryStore

__all__ = ["MergeReport", "merge_stores"]


@dataclass
class MergeReport:
    """What :func:`merge_stores` did."""

    merged: int = 0
    """Episodes written to the destination."""
    identical: int = 0
    """Episodes already in the destination with the same steps (skipped)."""
    skipped: list[str] = field(default_factory=list)
    """Ids already in the destination with other content, left as they were (``on_conflict="skip"``)."""
    per_source: dict[str, int] = field(default_factory=dict)
    """Episodes written from each source."""


def _same(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    keys = ("manifest", "initial_observation_hash", "final_score", "end_reason")
    if any(a.get(k) != b.get(k) for k in keys) or len(a["steps"]) != len(b["steps"]):
        return False
    return all(x["observation_hash"] == y["observation_hash"] and x["action"] == y["action"]
               for x, y in zip(a["steps"], b["steps"], strict=True))


def merge_stores(sources: Sequence[str | os.PathLike[str]], dest: str | os.PathLike[str], *,
                 on_conflict: str = "error") -> MergeReport:
    """Copy every episode of ``sources`` into the store ``dest`` (created if missing).

    An episode id found in more than one place with the same recorded steps is stored once
    (``identical``); with different content, ``on_conflict`` decides: ``"error"`` (raise
    :class:`TrajectoryError` naming the id and both files; the episodes merged before it stay),
    ``"skip"`` (keep the first) or ``"replace"`` (keep the last). Sources are only read (a
    schema-1 source is upgraded in place, as opening any store does); a source that is missing
    or is ``dest`` itself is refused before anything is written.
    """
    if on_conflict not in ("error", "skip", "replace"):
        raise ValueError(f"on_conflict must be error, skip or replace, got {on_conflict!r}")
    target = Path(dest).expanduser().resolve()
    paths = []
    for src in sources:
        path = Path(src).expanduser().resolve()
        if path == target:
            raise TrajectoryError(f"{src}: a source cannot also be the destination")
        if not path.is_file():
            raise TrajectoryError(f"{src}: no such trajectory store")
        paths.append(path)
    if not paths:
        raise TrajectoryError("no source stores to merge")
    stores = [TrajectoryStore(p) for p in paths]
    report = MergeReport()
    origin: dict[str, Path] = {}
    out = TrajectoryStore(target)
    try:
        for path, store in zip(paths, stores, strict=True):
            written = 0
            for entry in reversed(store.list_episodes(limit=None)):
                eid = entry["episode_id"]
                record = store.load_episode(eid)
                if out.has_episode(eid):
                    if _same(out.load_episode(eid), record):
                        report.identical += 1
                        continue
                    where = origin.get(eid, target)
                    if on_conflict == "error":
                        raise TrajectoryError(f"episode {eid} differs between {where} and {path}; pass "
                                              "on_conflict='skip' or 'replace' (--on-conflict) to choose")
                    if on_conflict == "skip":
                        report.skipped.append(eid)
                        continue
                out.import_record(record, replace=True)
                origin[eid] = path
                written += 1
            report.per_source[str(path)] = written
            report.merged += written
    finally:
        out.close()
        for store in stores:
            store.close()
    return report
