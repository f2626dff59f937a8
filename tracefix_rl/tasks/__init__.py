"""Tasks: the data an episode is built from, the built-in bank, and the task pipeline.

Pipeline: reference programs (:func:`corpus_programs`) → mutation engine
(:func:`sample_mutants`) → sandbox validation → difficulty rating → task packs
(:func:`write_pack` / :func:`open_pack`); :func:`make_variant` gives ``reset(variant=k)``;
:class:`Curriculum` samples tiers by schedule or by recent success.
"""

from tracefix_rl.tasks._model import (
    DIFFICULTIES,
    FAIL_TO_PASS,
    PASS_TO_PASS,
    ROLES,
    Difficulty,
    Role,
    Task,
    TestSpec,
)
from tracefix_rl.tasks._registry import builtin_tasks, get_task, list_tasks, load_task_file, sample_task

__all__ = [
    "DIFFICULTIES",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "ROLES",
    "Role",
    "PACK_SCHEMA_VERSION",
    "BuildReport",
    "Curriculum",
    "Difficulty",
    "ReferenceProgram",
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
    "operator_names",
    "read_pack",
    "sample_mutants",
    "sample_task",
    "write_pack",
]

_LAZY = {
    "PACK_SCHEMA_VERSION": "tracefix_rl.tasks._pack", "TaskPack": "tracefix_rl.tasks._pack",
    "open_pack": "tracefix_rl.tasks._pack", "read_pack": "tracefix_rl.tasks._pack",
    "write_pack": "tracefix_rl.tasks._pack", "BuildReport": "tracefix_rl.tasks._build",
    "build_tasks": "tracefix_rl.tasks._build", "ReferenceProgram": "tracefix_rl.tasks._corpus",
    "corpus_programs": "tracefix_rl.tasks._corpus", "make_variant": "tracefix_rl.tasks._variants",
    "operator_names": "tracefix_rl.tasks._mutate", "sample_mutants": "tracefix_rl.tasks._mutate",
    "Curriculum": "tracefix_rl.tasks._curriculum",
}


def __getattr__(name: str) -> object:
    # the pipeline modules import the sandbox lazily; keep `import tracefix_rl.tasks` light
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tracefix_rl.tasks' has no attribute {name!r}")
