"""Where an episode's task comes from: the built-in bank or a task pack, plus variants."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from tracefix_rl.core.errors import TaskError
from tracefix_rl.core.task import Task
from tracefix_rl.data.tasks._registry import get_task, list_tasks, sample_task

__all__ = ["BuiltinSource", "RecordedTaskSource", "TaskSource", "open_task_source", "resolve_task"]


@runtime_checkable
class TaskSource(Protocol):
    """A collection of tasks the environment can reset into.

    ``identity`` names the source in trajectory manifests (so a replay can reopen it), and
    ``content_hash`` proves it is the same collection.
    """

    identity: str

    def get(self, name: str) -> Task:
        """The task called ``name`` (or an alias); raises UnknownTaskError."""
        ...

    def sample(self, seed: int, difficulty: str | None = None) -> Task:
        """A task chosen deterministically from ``seed`` (within ``difficulty``)."""
        ...

    def variant(self, task: Task, k: int) -> Task:
        """Variant ``k`` (>= 1) of ``task``, deterministically; raises TaskError if there is none."""
        ...

    def tasks(self, difficulty: str | None = None) -> list[Task]:
        """Every task (of one tier)."""
        ...


class BuiltinSource:
    """The tasks shipped with the package (``tracefix_rl/data/tasks/builtin``)."""

    identity = "builtin"

    def get(self, name: str) -> Task:
        """See :class:`TaskSource`."""
        return get_task(name)

    def sample(self, seed: int, difficulty: str | None = None) -> Task:
        """See :class:`TaskSource`."""
        return sample_task(seed, difficulty)

    def variant(self, task: Task, k: int) -> Task:
        """See :class:`TaskSource`; variants come from the mutation engine when it is installed."""
        try:
            from tracefix_rl.data.tasks._variants import make_variant
        except ImportError:
            raise TaskError(f"task {task.name!r} has no variant {k}; built-in tasks have only variant 0") from None
        return make_variant(task, k)

    def tasks(self, difficulty: str | None = None) -> list[Task]:
        """See :class:`TaskSource`."""
        return list_tasks(difficulty)


class RecordedTaskSource:
    """The one task a trajectory manifest carries, as a source: replays need no pack on disk.

    ``task`` is the task exactly as the episode ran it (a variant already applied), so
    :meth:`variant` returns it unchanged; ``identity`` is the source recorded in the manifest.
    """

    def __init__(self, task: Task, identity: str) -> None:
        self.task = task
        self.identity = identity

    def get(self, name: str) -> Task:
        """See :class:`TaskSource`."""
        if name not in (self.task.name, *self.task.aliases):
            from tracefix_rl.core.errors import UnknownTaskError

            raise UnknownTaskError(f"the recorded task is {self.task.name!r}, not {name!r}")
        return self.task

    def sample(self, seed: int, difficulty: str | None = None) -> Task:
        """See :class:`TaskSource`: always the recorded task."""
        return self.task

    def variant(self, task: Task, k: int) -> Task:
        """See :class:`TaskSource`: the recorded task already is the variant that ran."""
        return task

    def tasks(self, difficulty: str | None = None) -> list[Task]:
        """See :class:`TaskSource`."""
        return [self.task] if difficulty in (None, self.task.difficulty) else []


def open_task_source(spec: str | None) -> TaskSource:
    """``None`` or ``"builtin"`` for the built-in bank, otherwise the path of a task pack."""
    if spec in (None, "", "builtin"):
        return BuiltinSource()
    try:
        from tracefix_rl.data.tasks._pack import open_pack
    except ImportError:
        raise TaskError("task packs are not supported by this installation") from None
    return open_pack(spec)


def resolve_task(name: str, task_pack: str | Path | None = None, variant: int = 0) -> Task:
    """The task called ``name`` in ``task_pack`` (or the built-in bank), as variant ``variant``.

    For graders and servers that receive a task name plus, optionally, the pack (or the
    ``task_source`` identity recorded in a trajectory manifest, ``"builtin"`` included).
    """
    source = open_task_source(str(task_pack) if task_pack else None)
    task = source.get(name)
    return source.variant(task, variant) if variant else task
