"""Tasks: the data an episode is built from, and the built-in bank."""

from tracefix_rl.tasks._model import DIFFICULTIES, Difficulty, Task, TestSpec
from tracefix_rl.tasks._registry import builtin_tasks, get_task, list_tasks, load_task_file, sample_task

__all__ = [
    "DIFFICULTIES",
    "Difficulty",
    "Task",
    "TestSpec",
    "builtin_tasks",
    "get_task",
    "list_tasks",
    "load_task_file",
    "sample_task",
]
