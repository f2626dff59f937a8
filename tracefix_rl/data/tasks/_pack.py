"""Task packs: collections of tasks on disk that the environment loads by path.

Schema version 1 (``PACK_SCHEMA_VERSION``). A pack is one of:

* **a JSONL file** (``*.jsonl``): the first line is the header, every other line one task
  record;
* **a Parquet file** (``*.parquet``, needs ``pyarrow``): columns ``name``, ``difficulty`` and
  ``record`` (the task record as JSON text), with the header as JSON under the schema
  metadata key ``tracefix_pack``;
* **a directory**: ``manifest.json`` (the header; optional) plus task records in any number
  of ``*.jsonl`` files (one record a line; a header line, if present, is skipped) and
  ``*.toml`` files (one task each, the built-in task schema), read in sorted file order.

The header::

    {"tracefix_pack": 1,                 # schema version
     "name": "default",                  # free text
     "created_by": "tracefix-rl 0.3.0",  # free text
     "count": 2000,                      # number of task records
     "counts": {"easy": .., "medium": .., "hard": ..},
     "tasks_hash": "<sha256>",           # over the records' content hashes, in order
     "meta": {...}}                      # generator settings, operator counts, anything else

A task record is exactly :meth:`Task.to_dict`: ``name, difficulty, entry_point, description,
reference, buggy, tests, hidden_tests, bug_type, bug_description, provenance, aliases,
max_steps``; tests are ``{name, call, expected | raises, setup?, approx?}``. Provenance
(operators, locations, original lines, difficulty features) stays in the record and never
reaches an observation. When a header gives ``count`` or ``tasks_hash``, loading checks them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import TaskError, UnknownTaskError
from tracefix_rl.core.task import DIFFICULTIES, Task

__all__ = ["PACK_SCHEMA_VERSION", "TaskPack", "open_pack", "read_pack", "tasks_hash", "write_pack"]

PACK_SCHEMA_VERSION = 1


def tasks_hash(tasks: Iterable[Task]) -> str:
    """SHA-256 over the tasks' content hashes, in order: the pack's identity."""
    h = hashlib.sha256()
    for t in tasks:
        h.update(t.content_hash.encode())
    return h.hexdigest()


def _header(tasks: Sequence[Task], name: str, meta: dict[str, Any] | None) -> dict[str, Any]:
    from tracefix_rl._version import __version__

    counts = Counter(t.difficulty for t in tasks)
    return {"tracefix_pack": PACK_SCHEMA_VERSION, "name": name, "created_by": f"tracefix-rl {__version__}",
            "count": len(tasks), "counts": {d: counts.get(d, 0) for d in DIFFICULTIES},
            "tasks_hash": tasks_hash(tasks), "meta": meta or {}}


def write_pack(tasks: Sequence[Task], path: str | Path, *, name: str = "", meta: dict[str, Any] | None = None) -> Path:
    """Write ``tasks`` as a pack; the format follows the suffix (``.jsonl``, ``.parquet``, or
    none for a directory). Task names must be unique. Returns the path written."""
    path = Path(path)
    tasks = [Task.from_dict(t.to_dict()) for t in tasks]  # canonical form: what a reader gets back
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise TaskError(f"pack has two tasks called {dup!r}")
    header = _header(tasks, name or path.stem, meta)
    records = [json.dumps(t.to_dict(), sort_keys=True, ensure_ascii=False) for t in tasks]
    if path.suffix == ".jsonl":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([json.dumps(header, sort_keys=True)] + records) + "\n", encoding="utf-8")
    elif path.suffix == ".parquet":
        pa, pq = _pyarrow()
        table = pa.table({"name": names, "difficulty": [t.difficulty for t in tasks], "record": records})
        table = table.replace_schema_metadata({"tracefix_pack": json.dumps(header, sort_keys=True)})
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    elif path.suffix == "":
        path.mkdir(parents=True, exist_ok=True)
        (path / "manifest.json").write_text(json.dumps(header, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (path / "tasks.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    else:
        raise TaskError(f"{path}: a pack is a .jsonl file, a .parquet file or a directory")
    return path


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TaskError("Parquet packs need pyarrow (pip install pyarrow)") from None
    return pa, pq


def _record(data: Any, where: str) -> Task:
    if not isinstance(data, dict):
        raise TaskError(f"{where}: a task record must be a JSON object")
    try:
        return Task.from_dict(data)
    except TaskError as exc:
        raise TaskError(f"{where}: {exc}") from None


def _is_header(data: Any) -> bool:
    return isinstance(data, dict) and "tracefix_pack" in data


def _read_jsonl(path: Path) -> tuple[dict[str, Any] | None, list[Task]]:
    header: dict[str, Any] | None = None
    tasks: list[Task] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskError(f"{path.name}:{n}: not JSON: {exc}") from None
        if _is_header(data):
            if header is not None or tasks:
                raise TaskError(f"{path.name}:{n}: the header must be the first line")
            header = data
            continue
        tasks.append(_record(data, f"{path.name}:{n}"))
    return header, tasks


def read_pack(path: str | Path) -> tuple[dict[str, Any], list[Task]]:
    """Read a pack's header (``{}`` if it has none) and tasks, checking the header's claims."""
    path = Path(path)
    if not path.exists():
        raise TaskError(f"task pack {str(path)!r} does not exist")
    header: dict[str, Any] | None = None
    if path.is_dir():
        tasks: list[Task] = []
        manifest = path / "manifest.json"
        if manifest.exists():
            try:
                header = json.loads(manifest.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise TaskError(f"{manifest}: not JSON: {exc}") from None
        for file in sorted(path.iterdir()):
            if file.suffix == ".jsonl":
                tasks.extend(_read_jsonl(file)[1])
            elif file.suffix == ".toml":
                try:
                    data = tomllib.loads(file.read_text(encoding="utf-8"))
                except tomllib.TOMLDecodeError as exc:
                    raise TaskError(f"{file.name}: invalid TOML: {exc}") from None
                tasks.append(_record(data, file.name))
    elif path.suffix == ".parquet":
        _pa, pq = _pyarrow()
        table = pq.read_table(path)
        meta = (table.schema.metadata or {}).get(b"tracefix_pack")
        header = json.loads(meta) if meta else None
        if "record" not in table.column_names:
            raise TaskError(f"{path.name}: a Parquet pack needs a 'record' column")
        tasks = [_record(json.loads(r), f"{path.name}:row {i}") for i, r in enumerate(table.column("record").to_pylist())]
    else:
        header, tasks = _read_jsonl(path)
    header = header or {}
    version = header.get("tracefix_pack", PACK_SCHEMA_VERSION)
    if version != PACK_SCHEMA_VERSION:
        raise TaskError(f"{path}: pack schema version {version!r}; this installation reads {PACK_SCHEMA_VERSION}")
    if "count" in header and header["count"] != len(tasks):
        raise TaskError(f"{path}: the header says {header['count']} tasks, the pack has {len(tasks)}")
    if "tasks_hash" in header and header["tasks_hash"] != tasks_hash(tasks):
        raise TaskError(f"{path}: the tasks do not match the header's tasks_hash (pack modified or truncated)")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise TaskError(f"{path}: two tasks are called {dup!r}")
    if not tasks:
        raise TaskError(f"{path}: the pack has no tasks")
    return header, tasks


@dataclass
class TaskPack:
    """A loaded pack; satisfies :class:`~tracefix_rl.data.tasks._source.TaskSource`.

    ``identity`` is ``"<resolved path>#<first 16 hex of the tasks hash>"``; passing it back to
    :func:`open_pack` reopens the pack and checks it is unchanged.
    """

    path: Path
    header: dict[str, Any]
    _tasks: list[Task]

    def __post_init__(self) -> None:
        self.content_hash = tasks_hash(self._tasks)
        self.identity = f"{self.path}#{self.content_hash[:16]}"
        self._by_name = {t.name: t for t in self._tasks}
        self._aliases = {a: t.name for t in self._tasks for a in t.aliases}

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, name: str) -> Task:
        """See :class:`TaskSource`."""
        if name in self._by_name:
            return self._by_name[name]
        if name in self._aliases:
            return self._by_name[self._aliases[name]]
        import difflib

        close = difflib.get_close_matches(name, list(self._by_name), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownTaskError(f"no task {name!r} in pack {self.path}{hint}")

    def tasks(self, difficulty: str | None = None) -> list[Task]:
        """See :class:`TaskSource`."""
        if difficulty is not None and difficulty not in DIFFICULTIES:
            raise TaskError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
        return [t for t in self._tasks if difficulty is None or t.difficulty == difficulty]

    def sample(self, seed: int, difficulty: str | None = None) -> Task:
        """See :class:`TaskSource` (``random.Random(seed).choice`` over the tier, in pack order)."""
        pool = self.tasks(difficulty)
        if not pool:
            raise TaskError(f"pack {self.path} has no tasks with difficulty {difficulty!r}")
        return random.Random(seed).choice(pool)

    def variant(self, task: Task, k: int) -> Task:
        """See :class:`TaskSource`: a fresh mutant of the task's reference (the mutation engine)."""
        from tracefix_rl.data.tasks._variants import make_variant

        return make_variant(task, k)


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, size: int) -> TaskPack:
    header, tasks = read_pack(path)
    return TaskPack(Path(path), header, tasks)


def open_pack(spec: str | Path) -> TaskPack:
    """Open the pack at ``spec`` (a path, optionally ``#<hash prefix>`` to pin its content).

    Packs are cached per process, keyed on path, modification time and size.
    """
    text = str(spec)
    pin = ""
    if "#" in text:
        text, pin = text.rsplit("#", 1)
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise TaskError(f"task pack {text!r} does not exist")
    stat = path.stat()
    if path.is_dir():  # a directory's own mtime misses in-place edits: key on its files too
        files = sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".toml", ".json"))
        mtime = max([stat.st_mtime_ns] + [p.stat().st_mtime_ns for p in files])
        size = sum(p.stat().st_size for p in files)
    else:
        mtime, size = stat.st_mtime_ns, stat.st_size
    pack = _load(str(path), mtime, size)
    if pin and not pack.content_hash.startswith(pin):
        raise TaskError(f"task pack {text!r} changed: its hash is {pack.content_hash[:16]}, expected {pin}")
    return pack
