"""The episode list's queries: filtered, sorted, paginated in SQL on the store's indexes.

:func:`query_episodes` answers one page of an :class:`EpisodeQuery` (filters by task, tier,
resolved, score range, start-time range, agent, flags and owner; a whitelisted sort key;
``LIMIT``/``OFFSET`` pages) with the total count, and :func:`episode_facets` lists the values
the filters can take. Every filter and sort key has an index (schema 3, see
:mod:`tracefix_rl.data.trajectories._store`), so a page of a store with 100,000 episodes is answered
in milliseconds (``bench/bench_viewer.py`` measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tracefix_rl.data.trajectories._store import TrajectoryStore

__all__ = ["MAX_PER_PAGE", "SORT_KEYS", "EpisodePage", "EpisodeQuery", "episode_facets", "query_episodes"]

#: Sort keys of the episode list and the column each sorts on (ties: newest first).
SORT_KEYS = {"start_time": "start_time", "final_score": "final_score", "total_steps": "total_steps",
             "task": "task_name", "reward": "cumulative_reward", "flags": "flag_count"}
#: Largest page the list serves.
MAX_PER_PAGE = 500

_LIST_COLS = ("episode_id, task_name, difficulty, seed, variant, start_time, end_time, final_score, end_reason, "
              "total_steps, cumulative_reward, done, flag_count, resolved, agent, isolation, package_version")


@dataclass(frozen=True, kw_only=True)
class EpisodeQuery:
    """One page of the episode list. Every filter is optional (``None``: no filter).

    ``resolved`` keeps ended episodes whose last step resolved the task (``True``) or ended
    without resolving it (``False``). Score and time bounds are inclusive; times are Unix
    seconds. ``owner`` restricts the list to one owner's episodes (a server passes the client's
    principal). ``sort`` is a key of :data:`SORT_KEYS`; ``page`` counts from 1 and
    ``per_page`` is 1 to :data:`MAX_PER_PAGE`. Invalid values raise ``ValueError`` naming the
    field.
    """

    task: str | None = None
    difficulty: str | None = None
    resolved: bool | None = None
    min_score: float | None = None
    max_score: float | None = None
    since: float | None = None
    until: float | None = None
    agent: str | None = None
    flagged: bool | None = None
    owner: str | None = None
    sort: str = "start_time"
    descending: bool = True
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort: must be one of {', '.join(SORT_KEYS)}, got {self.sort!r}")
        if not isinstance(self.page, int) or self.page < 1:
            raise ValueError(f"page: must be a whole number of at least 1, got {self.page!r}")
        if not isinstance(self.per_page, int) or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page: must be between 1 and {MAX_PER_PAGE}, got {self.per_page!r}")
        for name in ("min_score", "max_score", "since", "until"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")


@dataclass
class EpisodePage:
    """One page of episode summaries (newest first unless sorted otherwise) and the total count."""

    rows: list[dict[str, Any]]
    total: int
    query: EpisodeQuery

    @property
    def pages(self) -> int:
        """How many pages the filtered list has (at least 1)."""
        return max(1, -(-self.total // self.query.per_page))


# Equality filters from the most to the least selective: only the first one given is offered to
# the planner's indexes (the others are written ``+column``, which no index serves), so a task
# filter is not answered from the index of ``resolved``, a column of three values.
_EQUALITIES = (("task_name", "task"), ("agent", "agent"), ("owner", "owner"), ("difficulty", "difficulty"),
               ("resolved", "resolved"))


def _where(query: EpisodeQuery) -> tuple[str, list[Any]]:
    conds: list[str] = []
    args: list[Any] = []
    for column, field_name in _EQUALITIES:
        value = getattr(query, field_name)
        if value is not None:
            conds.append(f"{'+' if conds else ''}{column} = ?")
            args.append(int(value) if isinstance(value, bool) else value)
    for cond, bound in (("final_score >= ?", query.min_score), ("final_score <= ?", query.max_score),
                        ("start_time >= ?", query.since), ("start_time <= ?", query.until)):
        if bound is not None:
            conds.append(cond)
            args.append(bound)
    if query.flagged is not None:
        conds.append("flag_count > 0" if query.flagged else "flag_count = 0")
    return (" WHERE " + " AND ".join(conds)) if conds else "", args


def query_episodes(store: TrajectoryStore, query: EpisodeQuery) -> EpisodePage:
    """One page of episode summaries for ``query``, and how many episodes match in all.

    Each row has ``episode_id, task_name, difficulty, seed, variant, start_time, end_time,
    final_score, end_reason, total_steps, cumulative_reward, done, flag_count, resolved, agent,
    isolation, package_version`` (``done`` a bool, ``resolved`` a bool or ``None``).
    """
    where, args = _where(query)
    direction = "DESC" if query.descending else "ASC"
    order = SORT_KEYS[query.sort]
    tie = "" if order == "start_time" else ", start_time DESC"
    sql = (f"SELECT {_LIST_COLS} FROM episodes{where} ORDER BY {order} {direction}{tie}, rowid DESC "
           f"LIMIT {query.per_page} OFFSET {(query.page - 1) * query.per_page}")
    rows = store._query(sql, tuple(args))
    total = int(store._query(f"SELECT COUNT(*) AS n FROM episodes{where}", tuple(args))[0]["n"])
    for r in rows:
        r["done"] = bool(r["done"])
        r["resolved"] = None if r["resolved"] is None else bool(r["resolved"])
    return EpisodePage(rows=rows, total=total, query=query)


def episode_facets(store: TrajectoryStore, *, owner: str | None = None) -> dict[str, list[str]]:
    """The values the list's filters can take: ``tasks``, ``difficulties`` and ``agents`` that occur
    (in ``owner``'s episodes if given), each sorted. Without an owner each is read from its own
    index, one lookup per distinct value."""
    out: dict[str, list[str]] = {}
    for key, column in (("tasks", "task_name"), ("difficulties", "difficulty"), ("agents", "agent")):
        if owner is None:  # jump from one value to the next in the column's index: one lookup per value
            sql = (f"WITH RECURSIVE seen(v) AS (SELECT MIN({column}) FROM episodes UNION ALL "
                   f"SELECT (SELECT MIN({column}) FROM episodes WHERE {column} > seen.v) FROM seen "
                   "WHERE seen.v IS NOT NULL) SELECT v FROM seen WHERE v IS NOT NULL")
            rows = store._query(sql, ())
        else:
            rows = store._query(f"SELECT DISTINCT {column} AS v FROM episodes WHERE owner = ? AND {column} IS NOT NULL",
                                (owner,))
        out[key] = sorted(str(r["v"]) for r in rows)
    return out
