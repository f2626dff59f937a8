"""The trajectory store: one embedded SQLite file holding many episodes.

Durability. The database runs in WAL mode and every step is its own ``BEGIN IMMEDIATE ...
COMMIT`` transaction; the recorder returns only after ``COMMIT``:

* In WAL mode a commit appends the transaction's pages to the ``-wal`` file with ``write(2)``
  before ``COMMIT`` returns, so the pages are in the kernel's page cache: a step whose
  observation was returned survives a SIGKILL of the process at any moment. That is the
  default, ``synchronous=NORMAL``. ``synchronous=FULL`` (``TRACEFIX_DB_SYNC=FULL``) also
  fsyncs the WAL at every commit, which extends the guarantee to an OS crash or power loss
  at about +0.4 ms per step on this machine's disk (``bench/bench_trajectory.py``).
* A killed writer never corrupts the file: SQLite's WAL commit is atomic (a frame set without
  its commit frame is ignored on recovery), and the next connection recovers the WAL.
  Measured cost of the fsync: about 0.5 ms per step on this machine's disk (``bench/``).

Concurrency. Any number of threads and processes may record into one file. In each process a
store has one writer thread with its own connection (group commit): a writing thread hands
its statements over and waits; the writer runs everything queued at that moment in one
``BEGIN IMMEDIATE ... COMMIT`` transaction, each caller's statements in its own savepoint (so
one caller's failure rolls back only its own rows), and wakes each caller once the commit it
belongs to has returned. So "durable before its observation is returned" holds per step, and
concurrent sessions share one commit instead of queueing for one each. Queries use a second
connection guarded by a lock. A forked child starts its own writer and connections, because
SQLite connections must not cross ``fork``. Writers of different processes take the write
lock up front with ``BEGIN IMMEDIATE`` (no deadlock on lock upgrade) and wait up to
``busy_timeout_ms`` for each other; WAL readers never block writers.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`)::

    episodes(episode_id TEXT PK, task_name, task_hash, difficulty, seed, variant,
             package_version, python_version, isolation, manifest JSON,
             initial_observation_hash, initial_snapshot JSON, start_time REAL, end_time REAL,
             final_score REAL, end_reason, total_steps INT, cumulative_reward REAL,
             done INT, flag_count INT, owner TEXT, initial_observation BLOB)
    steps(episode_id, step INT, timestamp REAL, action_type, action JSON,
          observation_hash, snapshot JSON, reward REAL, reward_breakdown JSON,
          cumulative_reward REAL, done INT, error, diff, pass_rate REAL, test_results JSON,
          duration_ms REAL, security_flags JSON, extra JSON, observation BLOB;
          PK (episode_id, step))

Times are Unix seconds (UTC). JSON columns hold compact JSON text. ``observation`` and
``initial_observation`` hold the complete :class:`~tracefix_rl.core.models.CodeObservation` the agent
was shown, as zlib-compressed canonical JSON (:func:`encode_observation`); read one back with
:meth:`TrajectoryStore.get_observation`. ``owner`` says who recorded the episode (the server
stores a digest of the client's API key; ``NULL`` for in-process recordings), so a server can
show each client only its own episodes.

Versions. Schema 1 (before full observations and owners) is migrated in place when a store is
opened (three ``ALTER TABLE ... ADD COLUMN``); its steps have no stored observation. A file
with a newer version than :data:`SCHEMA_VERSION` is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tracefix_rl.core.errors import EpisodeIdInUseError, TrajectoryError
from tracefix_rl.core.models import CodeObservation

T = TypeVar("T")

__all__ = ["SCHEMA_VERSION", "TrajectoryStore", "decode_observation", "encode_observation", "observation_snapshot"]

#: Bumped on every incompatible change of the tables above (2: full observations, owners).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY,
    task_name TEXT NOT NULL,
    task_hash TEXT,
    difficulty TEXT,
    seed INTEGER,
    variant INTEGER,
    package_version TEXT,
    python_version TEXT,
    isolation TEXT,
    manifest TEXT NOT NULL,
    initial_observation_hash TEXT,
    initial_snapshot TEXT,
    start_time REAL NOT NULL,
    end_time REAL,
    final_score REAL,
    end_reason TEXT,
    total_steps INTEGER NOT NULL DEFAULT 0,
    cumulative_reward REAL NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    flag_count INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    initial_observation BLOB
);
CREATE TABLE IF NOT EXISTS steps (
    episode_id TEXT NOT NULL REFERENCES episodes(episode_id),
    step INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    action_type TEXT NOT NULL,
    action TEXT NOT NULL,
    observation_hash TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    reward REAL NOT NULL,
    reward_breakdown TEXT NOT NULL,
    cumulative_reward REAL NOT NULL,
    done INTEGER NOT NULL,
    error TEXT,
    diff TEXT NOT NULL,
    pass_rate REAL,
    test_results TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    security_flags TEXT NOT NULL,
    extra TEXT NOT NULL,
    observation BLOB,
    PRIMARY KEY (episode_id, step)
);
CREATE INDEX IF NOT EXISTS episodes_by_time ON episodes(start_time);
CREATE INDEX IF NOT EXISTS episodes_by_task ON episodes(task_name, start_time);
CREATE INDEX IF NOT EXISTS episodes_by_owner ON episodes(owner, start_time);
"""

# Schema 1 -> 2: the full observation of every step, and who recorded each episode.
_MIGRATE_1_TO_2 = """
ALTER TABLE episodes ADD COLUMN owner TEXT;
ALTER TABLE episodes ADD COLUMN initial_observation BLOB;
ALTER TABLE steps ADD COLUMN observation BLOB;
CREATE INDEX IF NOT EXISTS episodes_by_owner ON episodes(owner, start_time);
"""

_EPISODE_COLS = ("episode_id", "task_name", "task_hash", "difficulty", "seed", "variant", "package_version",
                 "python_version", "isolation", "manifest", "initial_observation_hash", "initial_snapshot",
                 "start_time", "end_time", "final_score", "end_reason", "total_steps", "cumulative_reward",
                 "done", "flag_count", "owner", "initial_observation")
_STEP_COLS = ("episode_id", "step", "timestamp", "action_type", "action", "observation_hash", "snapshot",
              "reward", "reward_breakdown", "cumulative_reward", "done", "error", "diff", "pass_rate",
              "test_results", "duration_ms", "security_flags", "extra", "observation")
_INSERT_STEP = f"INSERT INTO steps ({','.join(_STEP_COLS)}) VALUES ({','.join('?' * len(_STEP_COLS))})"
_JSON_STEP_COLS = frozenset({"action", "snapshot", "reward_breakdown", "test_results", "security_flags", "extra"})

_SCALAR_FIELDS = ("done", "reward", "step_count", "steps_remaining", "tests_passed", "tests_total",
                  "hidden_tests_passed", "hidden_tests_total", "syntax_error", "syntax_error_line",
                  "syntax_error_message", "final_score", "resolved", "last_action_error", "end_reason", "infra_error",
                  "cumulative_reward", "task_name", "difficulty")
_DIGEST_FIELDS = ("code_dict", "localized_context", "last_execution_output", "test_results", "trace",
                  "task_description", "reward_breakdown")
_OUTPUT_HEAD = 600
#: zlib level of stored observations: level 1 is ~3x faster than 6 for a few % more bytes.
_ZLIB_LEVEL = 1
#: Most callers' writes one group commit takes.
_GROUP_MAX = 128


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    # == json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")), without
    # building an encoder per call (the recorder serialises a few dozen values per step)
    return _ENCODER.encode(value)


def _digest(value: Any) -> str:
    return hashlib.sha256(_dumps(value).encode()).hexdigest()[:16]


def observation_snapshot(obs: CodeObservation | dict[str, Any]) -> dict[str, Any]:
    """The compact, field-level picture of an observation stored with every step.

    Scalar fields are kept verbatim; each large field is kept as a 16-hex digest (under
    ``digests``), plus the head of ``last_execution_output`` and one ``name:status`` per test,
    so a replay divergence can name exactly which fields differ. Test durations are excluded,
    as in :func:`~tracefix_rl.env.observation_hash`. The key set is the same for every step.
    ``obs`` may also be the observation's ``model_dump(mode="json")`` (not modified).
    """
    full = obs if isinstance(obs, dict) else obs.model_dump(mode="json")
    results = [{k: v for k, v in r.items() if k != "duration_ms"} for r in full["test_results"]]
    snap: dict[str, Any] = {k: full[k] for k in _SCALAR_FIELDS}
    snap["digests"] = {k: _digest(results if k == "test_results" else full[k]) for k in _DIGEST_FIELDS}
    snap["output_head"] = full["last_execution_output"][:_OUTPUT_HEAD]
    snap["tests"] = [f"{r['test_name']}:{r['status']}" for r in results]
    return snap


def snapshot_and_blob(data: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """:func:`observation_snapshot` and :func:`encode_observation` of one ``model_dump(mode="json")``
    (the observation is dumped once for both, and every encoding uses one prebuilt encoder)."""
    results = data["test_results"]
    parts = {k: _dumps(data[k]) for k in _DIGEST_FIELDS}
    hashed = dict(parts)
    if results:  # the digest leaves out test durations (as observation_hash does); the record keeps them
        hashed["test_results"] = _dumps([{f: v for f, v in r.items() if f != "duration_ms"} for r in results])
    snap: dict[str, Any] = {k: data[k] for k in _SCALAR_FIELDS}
    snap["digests"] = {k: hashlib.sha256(hashed[k].encode()).hexdigest()[:16] for k in _DIGEST_FIELDS}
    # The stored text reuses the large fields' encodings: the small fields (sorted), then the large ones
    # (sorted) -- one canonical form, and the same object as _dumps(data) once decoded.
    small = _dumps({k: v for k, v in data.items() if k not in parts})
    text = small[:-1] + "".join(f',"{k}":{parts[k]}' for k in sorted(parts)) + "}"
    snap["output_head"] = data["last_execution_output"][:_OUTPUT_HEAD]
    snap["tests"] = [f"{r['test_name']}:{r['status']}" for r in results]
    return snap, zlib.compress(text.encode("utf-8"), _ZLIB_LEVEL)


def encode_observation(obs: CodeObservation | dict[str, Any]) -> bytes:
    """The stored form of an observation: zlib-compressed compact JSON (UTF-8) of its
    ``model_dump(mode="json")``, as :func:`snapshot_and_blob` writes it.

    ``obs`` may also be the observation's ``model_dump(mode="json")``.
    """
    return snapshot_and_blob(obs if isinstance(obs, dict) else obs.model_dump(mode="json"))[1]


def decode_observation(blob: bytes) -> CodeObservation:
    """The :class:`~tracefix_rl.core.models.CodeObservation` that :func:`encode_observation` stored."""
    return CodeObservation.model_validate(json.loads(zlib.decompress(blob)))


class TrajectoryStore:
    """A SQLite file of recorded episodes: writes (used by the recorder) and queries.

    The seed logger's queries are all here: :meth:`get_trajectory`, :meth:`get_replay_actions`
    (now with full content), :meth:`get_step_timeline` and :meth:`get_history_summary`, plus
    :meth:`list_episodes` with task/score/date filters and :meth:`load_episode`, which returns
    the complete episode record (the export format). Safe to share between threads and
    processes (see the module docstring).

    Args:
        path: the database file; parent directories are created.
        synchronous: ``"NORMAL"`` (default: durable against a killed process) or ``"FULL"``
            (also durable against an OS crash or power loss; fsync per step).
        busy_timeout_ms: how long a writer waits for another writer.
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL",
                 busy_timeout_ms: int = 30_000) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path).expanduser()
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writer_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Ticket | None] | None = None
        self._writer_pid = 0
        self._writer_thread: threading.Thread | None = None
        self._last_started: str | None = None
        with self._locked():
            pass

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # Switching a fresh file to WAL (and creating the schema) can fail with "database is
        # locked" without SQLite's busy handler ever waiting, when several processes open a new
        # store at once: retry with a short randomised back-off until busy_timeout_ms.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        delay = 0.005
        while True:
            try:
                return self._connect_once()
            except TrajectoryError as exc:
                busy = isinstance(exc.__cause__, sqlite3.OperationalError) and (
                    "locked" in str(exc.__cause__) or "busy" in str(exc.__cause__))
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.2)

    def _connect_once(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise TrajectoryError(f"{self.path}: cannot enable WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._upgrade(conn, 0, _SCHEMA)
            elif version == 1:
                self._upgrade(conn, 1, _MIGRATE_1_TO_2)
            elif version != SCHEMA_VERSION:
                raise TrajectoryError(f"{self.path}: schema version {version}, this TraceFix-RL reads "
                                      f"versions 1 to {SCHEMA_VERSION} (a newer TraceFix-RL wrote this file)")
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise TrajectoryError(f"{self.path}: cannot open trajectory store: {exc}") from exc
        return conn

    @staticmethod
    def _upgrade(conn: sqlite3.Connection, version: int, script: str) -> None:
        """Run ``script`` to bring a store at ``version`` (0: a new file) to :data:`SCHEMA_VERSION`."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == version:  # another process may have done it
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = self._connect()  # never reuse a connection inherited across fork
                self._pid = os.getpid()
            yield self._conn

    def _commit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction of the writer thread; return its result once committed.

        ``work`` runs in its own savepoint: if it raises, only its statements are rolled back
        and the exception is raised here (``sqlite3`` errors as :class:`TrajectoryError`).
        """
        ticket = _Ticket(work)
        self._writer().put(ticket)
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[no-any-return]

    def _writer(self) -> queue.SimpleQueue[_Ticket | None]:
        with self._writer_lock:
            if self._queue is None or self._writer_pid != os.getpid():
                conn = self._connect()  # raises here, in the caller, if the store cannot be opened
                self._queue = queue.SimpleQueue()
                self._writer_pid = os.getpid()
                self._writer_thread = threading.Thread(target=self._write_loop, args=(self._queue, conn),
                                                       name=f"trajectory-writer:{self.path.name}", daemon=True)
                self._writer_thread.start()
            return self._queue

    def _write_loop(self, q: queue.SimpleQueue[_Ticket | None], conn: sqlite3.Connection) -> None:
        stop = False
        while not stop:
            first = q.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < _GROUP_MAX:
                try:
                    more = q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_group(conn, batch)
        conn.close()

    def _run_group(self, conn: sqlite3.Connection, batch: list[_Ticket]) -> None:
        pending = list(batch)
        try:
            while pending:
                aborted = None
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    alone = len(pending) == 1  # a savepoint is needed only to isolate callers from each other
                    for ticket in pending:
                        if not alone:
                            conn.execute("SAVEPOINT caller")
                        try:
                            ticket.result = ticket.work(conn)
                            if not alone:
                                conn.execute("RELEASE caller")
                        except BaseException as exc:
                            ticket.error = self._wrap(exc)
                            if alone or not conn.in_transaction:  # nothing else to keep, or SQLite rolled
                                aborted = ticket                  # back everything (e.g. disk full)
                                break
                            conn.execute("ROLLBACK TO caller")
                            conn.execute("RELEASE caller")
                    if aborted is None:
                        conn.execute("COMMIT")
                        pending = []
                    else:  # the others' work was rolled back with it: run it again without the culprit
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        pending = [t for t in pending if t.error is None]
                except BaseException as exc:  # BEGIN or COMMIT failed: nobody's work is stored
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    for ticket in pending:
                        if ticket.error is None:
                            ticket.error = self._wrap(exc)
                    pending = []
        finally:
            for ticket in batch:
                ticket.done.set()

    def _wrap(self, exc: BaseException) -> BaseException:
        if isinstance(exc, sqlite3.DatabaseError):
            wrapped = TrajectoryError(f"{self.path}: write failed: {exc}")
            wrapped.__cause__ = exc
            return wrapped
        return exc

    def close(self) -> None:
        """Close this process's connections and stop its writer (a later call reopens them). Idempotent."""
        with self._writer_lock:
            if self._queue is not None and self._writer_pid == os.getpid():
                self._queue.put(None)
                if self._writer_thread is not None:
                    self._writer_thread.join(timeout=30)
            self._queue, self._writer_thread = None, None
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -------------------------------------------------------------------------------

    def insert_episode(self, manifest: dict[str, Any], initial_hash: str, initial_snapshot: dict[str, Any],
                       *, start_time: float | None = None, owner: str | None = None,
                       initial_observation: bytes | None = None) -> str:
        """Create an episode row from its manifest; returns its id (``manifest["episode_id"]``).

        Episode ids are never shared: an id that is already stored raises
        :class:`~tracefix_rl.core.errors.EpisodeIdInUseError` and nothing is written.
        ``initial_observation`` is the :func:`encode_observation` of the first observation.
        """
        eid = str(manifest.get("episode_id") or "")
        if not eid:
            raise TrajectoryError("manifest has no episode_id")
        values = (eid, manifest.get("task_name", ""), manifest.get("task_hash"), manifest.get("difficulty"),
                  manifest.get("seed"), manifest.get("variant"), manifest.get("package_version"),
                  manifest.get("python_version"), manifest.get("isolation"), _dumps(manifest), initial_hash,
                  _dumps(initial_snapshot), time.time() if start_time is None else start_time, owner,
                  initial_observation)

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM episodes WHERE episode_id=?", (eid,)).fetchone():
                raise EpisodeIdInUseError("episode_id", f"{eid!r} is already recorded; episode ids are "
                                                        "never reused (omit episode_id to get a fresh one)")
            conn.execute(
                "INSERT INTO episodes (episode_id, task_name, task_hash, difficulty, seed, variant, "
                "package_version, python_version, isolation, manifest, initial_observation_hash, "
                "initial_snapshot, start_time, owner, initial_observation) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                values)

        try:
            self._commit(work)
        except TrajectoryError as exc:  # two writers raced for the same id: the loser is told so
            if isinstance(exc.__cause__, sqlite3.IntegrityError) and "episodes.episode_id" in str(exc.__cause__):
                raise EpisodeIdInUseError("episode_id", f"{eid!r} is already recorded") from None
            raise
        self._last_started = eid
        return eid

    def insert_step(self, row: dict[str, Any]) -> None:
        """Append one step (keys: the ``steps`` columns) and commit it durably before returning.

        If the row also has ``final_score`` and ``end_reason`` (the episode's last step), the
        episode's end is stored in the same transaction.
        """
        values = [_dumps(row[c]) if c in _JSON_STEP_COLS else row.get(c) for c in _STEP_COLS]
        values[_STEP_COLS.index("done")] = int(bool(row["done"]))
        update: tuple[str, tuple[Any, ...]]
        if "final_score" in row:
            update = ("UPDATE episodes SET total_steps=MAX(total_steps, ?), cumulative_reward=?, done=1, "
                      "flag_count=flag_count+?, end_time=?, final_score=?, end_reason=? WHERE episode_id=?",
                      (row["step"], row["cumulative_reward"], len(row["security_flags"]), row["timestamp"],
                       row["final_score"], row["end_reason"], row["episode_id"]))
        else:
            update = ("UPDATE episodes SET total_steps=MAX(total_steps, ?), cumulative_reward=?, done=?, "
                      "flag_count=flag_count+? WHERE episode_id=?",
                      (row["step"], row["cumulative_reward"], int(bool(row["done"])), len(row["security_flags"]),
                       row["episode_id"]))

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_INSERT_STEP, values)
            if conn.execute(*update).rowcount != 1:
                raise TrajectoryError(f"{self.path}: no episode {row['episode_id']!r} to add step {row['step']} to")

        self._commit(work)

    def finish_episode(self, episode_id: str, final_score: float | None, end_reason: str | None,
                       *, end_time: float | None = None) -> None:
        """Record an episode's end (final score, end reason, end time)."""
        args = (time.time() if end_time is None else end_time, final_score, end_reason, episode_id)
        self._commit(lambda conn: conn.execute(
            "UPDATE episodes SET end_time=?, final_score=?, end_reason=?, done=1 WHERE episode_id=?", args))

    def import_record(self, record: dict[str, Any], *, replace: bool = False) -> str:
        """Store a complete episode record (as produced by :meth:`load_episode`) in one transaction.

        Returns the stored id. An existing id raises :class:`TrajectoryError` unless
        ``replace`` is true (then the old episode is deleted first).
        """
        eid = record["episode_id"]
        ep = {c: record.get(c) for c in _EPISODE_COLS}
        ep["initial_observation"] = _blob(record.get("initial_observation"))
        ep["manifest"] = _dumps(record["manifest"])
        ep["initial_snapshot"] = _dumps(record.get("initial_snapshot") or {})
        ep["done"] = int(bool(record.get("done")))
        ep["total_steps"] = len(record["steps"])
        ep["flag_count"] = sum(len(s.get("security_flags") or []) for s in record["steps"])
        ep["cumulative_reward"] = record.get("cumulative_reward") or 0.0
        rows = []
        for s in record["steps"]:
            row = {**s, "episode_id": eid, "observation": _blob(s.get("observation"))}
            values = [_dumps(row.get(c)) if c in _JSON_STEP_COLS else row.get(c) for c in _STEP_COLS]
            values[_STEP_COLS.index("done")] = int(bool(row.get("done")))
            rows.append(values)

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM episodes WHERE episode_id=?", (eid,)).fetchone():
                if not replace:
                    raise TrajectoryError(f"episode {eid!r} already exists in {self.path}")
                conn.execute("DELETE FROM steps WHERE episode_id=?", (eid,))
                conn.execute("DELETE FROM episodes WHERE episode_id=?", (eid,))
            conn.execute(f"INSERT INTO episodes ({','.join(_EPISODE_COLS)}) VALUES "
                         f"({','.join('?' * len(_EPISODE_COLS))})", [ep[c] for c in _EPISODE_COLS])
            conn.executemany(_INSERT_STEP, rows)

        self._commit(work)
        return eid

    # -- queries ------------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._locked() as conn:
            cur = conn.execute(sql, args)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def _resolve(self, episode_id: str | None) -> str | None:
        if episode_id is not None:
            if self._query("SELECT 1 FROM episodes WHERE episode_id=?", (episode_id,)):
                return episode_id
            escaped = episode_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._query("SELECT episode_id FROM episodes WHERE episode_id LIKE ? ESCAPE '\\' LIMIT 2",
                               (escaped + "%",))
            return rows[0]["episode_id"] if len(rows) == 1 else episode_id  # a unique prefix
        if self._last_started is not None:
            return self._last_started
        rows = self._query("SELECT episode_id FROM episodes ORDER BY start_time DESC, rowid DESC LIMIT 1")
        return rows[0]["episode_id"] if rows else None

    def has_episode(self, episode_id: str) -> bool:
        """Whether an episode with this id is stored."""
        return bool(self._query("SELECT 1 FROM episodes WHERE episode_id=?", (episode_id,)))

    def load_episode(self, episode_id: str | None = None) -> dict[str, Any]:
        """The complete record of one episode (default: the current/latest one; a unique prefix
        of an id also works, as in every query here).

        Keys: ``episode_id, task, task_name, task_hash, difficulty, seed, variant,
        package_version, python_version, isolation, manifest, initial_observation_hash,
        initial_snapshot, start_time, end_time, duration_seconds, final_score, reward,
        end_reason, done, total_steps, cumulative_reward, flag_count, owner, initial_observation,
        steps``; each step has the ``steps`` columns (JSON decoded, ``done`` a bool, and
        ``observation`` the full observation as a JSON object, ``None`` if a schema-1 store kept
        none). Raises :class:`TrajectoryError` if the episode does not exist.
        """
        eid = self._resolve(episode_id)
        rows = self._query("SELECT * FROM episodes WHERE episode_id=?", (eid,)) if eid else []
        if not rows:
            raise TrajectoryError(f"no episode {episode_id!r} in {self.path}" if episode_id
                                  else f"no episodes in {self.path}")
        ep = rows[0]
        steps = self._query("SELECT * FROM steps WHERE episode_id=? ORDER BY step", (eid,))
        for s in steps:
            del s["episode_id"]
            for c in _JSON_STEP_COLS:
                s[c] = json.loads(s[c])
            s["done"] = bool(s["done"])
            s["observation"] = _unblob(s["observation"])
        ep["initial_observation"] = _unblob(ep["initial_observation"])
        ep["manifest"] = json.loads(ep["manifest"])
        ep["initial_snapshot"] = json.loads(ep["initial_snapshot"] or "{}")
        ep["done"] = bool(ep["done"])
        ep["task"] = ep["task_name"]
        ep["reward"] = ep["final_score"]
        ep["duration_seconds"] = round(ep["end_time"] - ep["start_time"], 3) if ep["end_time"] else None
        ep["steps"] = steps
        return ep

    def get_observation(self, episode_id: str, step: int) -> CodeObservation:
        """The exact :class:`~tracefix_rl.core.models.CodeObservation` returned to the agent at ``step``.

        ``step`` 0 is the observation ``reset`` returned; ``n >= 1`` the one after the ``n``-th
        action. ``episode_id`` must be a full id (no prefix matching). Raises
        :class:`TrajectoryError` if the episode or step is not stored, or was recorded by a
        schema-1 store, which kept only a digest of each observation.
        """
        if step == 0:
            rows = self._query("SELECT initial_observation AS o FROM episodes WHERE episode_id=?", (episode_id,))
        else:
            rows = self._query("SELECT observation AS o FROM steps WHERE episode_id=? AND step=?", (episode_id, step))
        if not rows:
            raise TrajectoryError(f"no step {step} of episode {episode_id!r} in {self.path}")
        if rows[0]["o"] is None:
            raise TrajectoryError(f"step {step} of episode {episode_id!r} has no stored observation "
                                  "(recorded by trajectory store schema 1, which kept only digests)")
        return decode_observation(rows[0]["o"])

    def episode_owner(self, episode_id: str) -> str | None:
        """Who recorded ``episode_id`` (``None``: in-process, or no such episode)."""
        rows = self._query("SELECT owner FROM episodes WHERE episode_id=?", (episode_id,))
        return rows[0]["owner"] if rows else None

    def get_trajectory(self, episode_id: str | None = None) -> dict[str, Any] | None:
        """The current/latest trajectory (or ``episode_id``'s) as a dict, or None if the store is empty."""
        try:
            return self.load_episode(episode_id)
        except TrajectoryError:
            return None

    def get_replay_actions(self, episode_id: str | None = None) -> list[dict[str, Any]]:
        """The recorded actions in order, each a full :class:`~tracefix_rl.core.models.CodeAction` dict.

        Unlike the seed logger, every action carries its content (``new_code_block``,
        ``thought``, line numbers), so ``CodeAction(**a)`` rebuilds it exactly.
        """
        eid = self._resolve(episode_id)
        if eid is None:
            return []
        return [json.loads(r["action"]) for r in
                self._query("SELECT action FROM steps WHERE episode_id=? ORDER BY step", (eid,))]

    def get_step_timeline(self, episode_id: str | None = None) -> list[dict[str, Any]]:
        """A compact per-step timeline: step, action, reward, cumulative reward, error, duration,
        pass rate, done and security flags (for visualisation)."""
        eid = self._resolve(episode_id)
        if eid is None:
            return []
        rows = self._query("SELECT step, action_type, reward, cumulative_reward, error, duration_ms, pass_rate, "
                           "done, security_flags FROM steps WHERE episode_id=? ORDER BY step", (eid,))
        return [{"step": r["step"], "action": r["action_type"], "reward": r["reward"],
                 "cumulative_reward": r["cumulative_reward"], "error": r["error"],
                 "duration_ms": r["duration_ms"], "pass_rate": r["pass_rate"], "done": bool(r["done"]),
                 "security_flags": [f["code"] for f in json.loads(r["security_flags"])]} for r in rows]

    def list_episodes(self, *, task: str | None = None, min_score: float | None = None,
                      max_score: float | None = None, since: float | None = None, until: float | None = None,
                      flagged: bool | None = None, limit: int | None = 50,
                      owner: str | None = None) -> list[dict[str, Any]]:
        """Episode summaries, newest first, filtered by task name, final score range, start time
        range (Unix seconds), whether any step was flagged, and who recorded them (``owner``)."""
        where, args = [], []
        for cond, val in (("owner = ?", owner), ("task_name = ?", task), ("final_score >= ?", min_score),
                          ("final_score <= ?", max_score), ("start_time >= ?", since), ("start_time <= ?", until)):
            if val is not None:
                where.append(cond)
                args.append(val)
        if flagged is not None:
            where.append("flag_count > 0" if flagged else "flag_count = 0")
        sql = ("SELECT episode_id, task_name, difficulty, seed, variant, start_time, end_time, final_score, "
               "end_reason, total_steps, cumulative_reward, done, flag_count FROM episodes")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, rowid DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._query(sql, tuple(args))
        for r in rows:
            r["done"] = bool(r["done"])
            r["task"] = r["task_name"]
            r["duration_seconds"] = round(r["end_time"] - r["start_time"], 3) if r["end_time"] else None
        return rows

    def get_history_summary(self, limit: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Summaries of the ``limit`` most recent episodes (oldest first, like the seed logger);
        accepts the filters of :meth:`list_episodes`."""
        return list(reversed(self.list_episodes(limit=limit, **filters)))

    def count_episodes(self) -> int:
        """Number of stored episodes."""
        return int(self._query("SELECT COUNT(*) AS n FROM episodes")[0]["n"])


def _blob(observation: Any) -> bytes | None:
    """An observation given as a JSON object (an export) or already encoded, in stored form."""
    if observation is None or isinstance(observation, bytes):
        return observation
    return encode_observation(observation)


def _unblob(blob: bytes | None) -> dict[str, Any] | None:
    return json.loads(zlib.decompress(blob)) if blob is not None else None


class _Ticket:
    """One caller's write, waiting for the group commit it belongs to."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work, self.done = work, threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
