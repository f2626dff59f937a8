"""The built-in task bank: TOML files shipped in ``tracefix_rl/data/tasks/builtin``."""

from __future__ import annotations

import difflib
import functools
import random
import tomllib
from pathlib import Path

from tracefix_rl.core.errors import TaskError, UnknownTaskError
from tracefix_rl.core.task import DIFFICULTIES, Task

__all__ = ["GRADED_TASKS", "BUILTIN_DIR", "builtin_tasks", "get_task", "list_tasks", "load_task_file", "sample_task"]

BUILTIN_DIR = Path(__file__).parent / "builtin"


def load_task_file(path: Path) -> Task:
    """Parse one task TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path.name}: invalid TOML: {exc}") from None
    task = Task.from_dict(data)
    if task.name != path.stem:
        raise TaskError(f"{path.name}: file name must equal the task name {task.name!r}")
    return task


@functools.cache
def builtin_tasks() -> dict[str, Task]:
    """All built-in tasks by name, sorted by (difficulty, name). Loaded once per process."""
    tasks = [load_task_file(p) for p in sorted(BUILTIN_DIR.glob("*.toml"))]
    tasks.sort(key=lambda t: (DIFFICULTIES.index(t.difficulty), t.name))
    return {t.name: t for t in tasks}


@functools.cache
def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for task in builtin_tasks().values():
        for alias in task.aliases:
            out[alias] = task.name
    return out


#: The graded tasks (the OpenEnv manifest's task ids, ``inference.py``'s default run, the
#: graders bound by name, the server's ``graded`` split): aliases of built-in tasks, one per tier.
GRADED_TASKS: tuple[str, ...] = ("task1_easy", "task2_medium", "task3_hard")


def get_task(name: str) -> Task:
    """Return the task called ``name`` (or one of its aliases, such as ``task2_medium``)."""
    tasks = builtin_tasks()
    if name in tasks:
        return tasks[name]
    if name in _aliases():
        return tasks[_aliases()[name]]
    close = difflib.get_close_matches(name, list(tasks) + list(_aliases()), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `tracefix tasks list`"
    raise UnknownTaskError(f"unknown task {name!r}{hint}")


def list_tasks(difficulty: str | None = None) -> list[Task]:
    """Built-in tasks, optionally only those of one difficulty tier."""
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise TaskError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    return [t for t in builtin_tasks().values() if difficulty is None or t.difficulty == difficulty]


def sample_task(seed: int, difficulty: str | None = None) -> Task:
    """Pick a task deterministically from ``seed`` (and the tier, if given)."""
    pool = list_tasks(difficulty)
    if not pool:
        raise TaskError(f"no tasks with difficulty {difficulty!r}")
    return random.Random(seed).choice(pool)
