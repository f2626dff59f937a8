"""Tasks: the data an episode is built from, the built-in bank, and the task pipeline.

Pipeline: reference programs (:func:`corpus_programs`) → mutation engine
(:mod:`tracefix_rl.engines.mutation`) → sandbox validation → difficulty rating → task packs
(:func:`write_pack` / :func:`open_pack`); :func:`make_variant` gives ``reset(variant=k)``;
:class:`Curriculum` samples tiers by schedule or by recent success.
"""

from typing import TYPE_CHECKING

from tracefix_rl.core.task import (
    DIFFICULTIES,
    FAIL_TO_PASS,
    PASS_TO_PASS,
    ROLES,
    Difficulty,
    Role,
    Task,
    TestSpec,
)
from tracefix_rl.data.tasks._registry import (
    GRADED_TASKS,
    builtin_tasks,
    get_task,
    list_tasks,
    load_task_file,
    sample_task,
)
from tracefix_rl.data.tasks._source import (
    BuiltinSource,
    RecordedTaskSource,
    TaskSource,
    open_task_source,
    resolve_task,
)

if TYPE_CHECKING:
    from tracefix_rl.data.tasks._build import BuildReport, build_tasks
    from tracefix_rl.data.tasks._corpus import ReferenceProgram, corpus_programs
    from tracefix_rl.data.tasks._curriculum import Curriculum
    from tracefix_rl.data.tasks._pack import PACK_SCHEMA_VERSION, TaskPack, open_pack, read_pack, write_pack
    from tracefix_rl.data.tasks._validate import check_task
    from tracefix_rl.data.tasks._variants import make_variant

__all__ = [
    "BuiltinSource",
    "RecordedTaskSource",
    "TaskSource",
    "check_task",
    "open_task_source",
    "DIFFICULTIES",
    "FAIL_TO_PASS",
    "GRADED_TASKS",
    "PASS_TO_PASS",
    "PACK_SCHEMA_VERSION",
    "ROLES",
    "BuildReport",
    "Curriculum",
    "Difficulty",
    "ReferenceProgram",
    "Role",
    "Task",
    "TaskPack",
    "TestSpec",
    "build_tasks",
    "builtin_tasks",
    "corpus_programs",
    "get_task",
    "list_tasks",
    "load_task_file",
    "make_variant",
    "open_pack",
    "read_pack",
    "resolve_task",
    "sample_task",
    "write_pack",
]

_LAZY = {
    "PACK_SCHEMA_VERSION": "tracefix_rl.data.tasks._pack", "TaskPack": "tracefix_rl.data.tasks._pack",
    "open_pack": "tracefix_rl.data.tasks._pack", "read_pack": "tracefix_rl.data.tasks._pack",
    "write_pack": "tracefix_rl.data.tasks._pack", "BuildReport": "tracefix_rl.data.tasks._build",
    "build_tasks": "tracefix_rl.data.tasks._build", "ReferenceProgram": "tracefix_rl.data.tasks._corpus",
    "corpus_programs": "tracefix_rl.data.tasks._corpus", "make_variant": "tracefix_rl.data.tasks._variants",
    "Curriculum": "tracefix_rl.data.tasks._curriculum", "check_task": "tracefix_rl.data.tasks._validate",
}


def __getattr__(name: str) -> object:
    # the pipeline modules import the sandbox lazily; keep `import tracefix_rl.data.tasks` light
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tracefix_rl.data.tasks' has no attribute {name!r}")
