"""Reference programs: correct code with visible and hidden tests, the input of the mutation engine.

The built-in corpus is every TOML file in ``tracefix_rl/data/tasks/corpus`` plus the distinct
reference programs of the hand-written task bank (``tracefix_rl/data/tasks/builtin``, loaded from
the registry, never copied). A corpus file uses the task schema without the bug fields::

    name = "run_length_decode"          # unique, also the file stem
    entry_point = "rle_decode"
    category = "strings"                # strings, lists, dicts, recursion, dp, graphs,
                                        # classes, generators, parsing, numeric
    description = "..."
    reference = '''...'''
    [[tests]]         # visible, as in tasks: name, call, expected | raises, setup, approx
    [[hidden_tests]]  # run only at SUBMIT
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import TaskError
from tracefix_rl.core.task import Task, TestSpec, _program, _test_from_dict
from tracefix_rl.engines.mutation import normalized

__all__ = ["CATEGORIES", "CORPUS_DIR", "ReferenceProgram", "corpus_programs", "load_program_file"]

CORPUS_DIR = Path(__file__).parent / "corpus"
CATEGORIES = ("strings", "lists", "dicts", "recursion", "dp", "graphs", "classes", "generators", "parsing",
              "numeric")


@dataclass(frozen=True)
class ReferenceProgram:
    """A correct program with its tests; ``origin`` says where it came from (``corpus``,
    ``builtin:<task>``, ``humaneval:<id>``)."""

    name: str
    entry_point: str
    description: str
    reference: str
    tests: tuple[TestSpec, ...]
    hidden_tests: tuple[TestSpec, ...]
    category: str = ""
    origin: str = "corpus"
    extra: dict[str, Any] = field(default_factory=dict)

    def task(self, *, name: str, buggy: str, difficulty: str = "medium", bug_type: str = "",
             bug_description: str = "", provenance: dict[str, Any] | None = None) -> Task:
        """A task with this program as the reference and ``buggy`` as the starting code (in the
        canonical form :meth:`Task.from_dict` gives, so it survives a pack round trip)."""
        task = Task(name=name, difficulty=difficulty, entry_point=self.entry_point,  # type: ignore[arg-type]
                    description=self.description, reference=self.reference, buggy=_program(buggy),
                    tests=self.tests, hidden_tests=self.hidden_tests, bug_type=bug_type,
                    bug_description=bug_description, provenance=dict(provenance or {}))
        return Task.from_dict(task.to_dict())

    @classmethod
    def from_task(cls, task: Task, origin: str | None = None) -> ReferenceProgram:
        """The reference program of an existing task (its tests included)."""
        category = str(task.provenance.get("category", ""))
        return cls(name=task.name, entry_point=task.entry_point, description=task.description,
                   reference=task.reference, tests=task.tests, hidden_tests=task.hidden_tests,
                   category=category, origin=origin or f"builtin:{task.name}")


def program_from_dict(data: dict[str, Any], origin: str = "corpus") -> ReferenceProgram:
    """Build a reference program from plain data (a parsed corpus file)."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise TaskError("reference program has no 'name'")
    try:
        tests = tuple(_test_from_dict(name, t) for t in data.get("tests", ()))
        hidden = tuple(_test_from_dict(name, t) for t in data.get("hidden_tests", ()))
        if not tests or not hidden:
            raise TaskError(f"reference program {name!r} needs visible and hidden tests")
        names = [t.name for t in tests + hidden]
        if len(set(names)) != len(names):
            raise TaskError(f"reference program {name!r}: test names are not unique")
        reference = _program(data["reference"])
        if normalized(reference) is None:
            raise TaskError(f"reference program {name!r} does not parse")
        category = str(data.get("category", ""))
        if category and category not in CATEGORIES:
            raise TaskError(f"reference program {name!r}: category must be one of {CATEGORIES}")
        return ReferenceProgram(name=name, entry_point=str(data["entry_point"]),
                                description=str(data.get("description", "")).strip(), reference=reference,
                                tests=tests, hidden_tests=hidden, category=category, origin=origin)
    except KeyError as exc:
        raise TaskError(f"reference program {name!r} is missing field {exc.args[0]!r}") from None


def load_program_file(path: Path) -> ReferenceProgram:
    """Parse one corpus TOML file (its stem must equal its name)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path.name}: invalid TOML: {exc}") from None
    program = program_from_dict(data)
    if program.name != path.stem:
        raise TaskError(f"{path.name}: file name must equal the program name {program.name!r}")
    return program


# entry point of a built-in task -> (program name, category); program names carry no bug hint
_BUILTIN_PROGRAMS = {
    "to_fahrenheit": ("celsius_to_fahrenheit", "numeric"), "count_char": ("count_char", "strings"),
    "factorial": ("factorial", "recursion"), "find_max": ("find_max", "lists"), "fizzbuzz": ("fizzbuzz", "lists"),
    "is_palindrome": ("palindrome", "strings"), "reverse_string": ("reverse_string", "strings"),
    "sum_even": ("sum_even", "lists"), "binary_search": ("binary_search", "lists"),
    "caesar": ("caesar_cipher", "strings"), "flatten": ("flatten", "recursion"),
    "moving_average": ("moving_average", "numeric"), "rle_encode": ("run_length_encode", "strings"),
    "transpose": ("transpose", "lists"), "word_count": ("word_count", "dicts"),
    "shortest_paths": ("dijkstra", "graphs"), "edit_distance": ("edit_distance", "dp"),
    "evaluate": ("expression_eval", "parsing"), "LRUCache": ("lru_cache", "classes"),
    "merge_intervals": ("merge_intervals", "lists"), "course_order": ("topo_sort", "graphs"),
    "is_valid": ("valid_parentheses", "parsing"),
}


@functools.cache
def corpus_programs(include_builtin: bool = True) -> tuple[ReferenceProgram, ...]:
    """Every built-in reference program, sorted by name; distinct after normalisation.

    Built-in tasks that share a reference (two bugs planted in one program) contribute it
    once, named after what it computes (``binary_search``), never after the planted bug.
    """
    programs = [load_program_file(p) for p in sorted(CORPUS_DIR.glob("*.toml"))]
    seen = {normalized(p.reference) for p in programs}
    if include_builtin:
        from tracefix_rl.data.tasks._registry import builtin_tasks

        for task in sorted(builtin_tasks().values(), key=lambda t: t.name):
            norm = normalized(task.reference)
            if norm in seen:
                continue
            seen.add(norm)
            prog = ReferenceProgram.from_task(task)
            name, category = _BUILTIN_PROGRAMS.get(task.entry_point, (task.entry_point.lower(), ""))
            programs.append(ReferenceProgram(
                name=name, entry_point=prog.entry_point, description=prog.description,
                reference=prog.reference, tests=prog.tests, hidden_tests=prog.hidden_tests,
                category=category, origin=prog.origin))
    names = [p.name for p in programs]
    if len(set(names)) != len(names):
        raise TaskError("corpus program names are not unique")
    return tuple(sorted(programs, key=lambda p: p.name))
