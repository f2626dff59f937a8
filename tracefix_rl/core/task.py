"""A task is data: a reference program, a buggy program, visible and hidden tests."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from tracefix_rl.core import safe_ast
from tracefix_rl.core.values import canonical

__all__ = ["DIFFICULTIES", "FAIL_TO_PASS", "PASS_TO_PASS", "ROLES", "Difficulty", "Role", "Task", "TestSpec", "entry_call",
           "fixed_expectation", "input_key"]

Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")

Role = Literal["fail_to_pass", "pass_to_pass"]
FAIL_TO_PASS: Role = "fail_to_pass"
PASS_TO_PASS: Role = "pass_to_pass"
ROLES: tuple[Role, ...] = (FAIL_TO_PASS, PASS_TO_PASS)


@dataclass(frozen=True)
class TestSpec:
    """One test: run ``setup`` statements, evaluate ``call``, compare with the expectation.

    Exactly one of ``expected`` (a Python literal, as text) and ``raises`` (an exception class
    name) is set. ``approx`` compares numbers with :func:`math.isclose`.

    ``role`` is the test's part in grading, as in SWE-bench: ``fail_to_pass`` (the buggy
    program fails it, the reference passes it: it shows the bug) or ``pass_to_pass`` (both
    pass it: it guards against regressions). It is computed once, when the task is validated,
    and stored with the task; ``None`` only on tasks that were never validated.
    """

    name: str
    call: str
    expected: str | None = None
    raises: str | None = None
    setup: str = ""
    approx: bool = False
    role: Role | None = None

    def __post_init__(self) -> None:
        from tracefix_rl.core.errors import TaskError

        if not isinstance(self.name, str) or not self.name:
            raise TaskError(f"a test needs a non-empty string 'name', got {self.name!r}")
        where = f"test {self.name!r}"
        for key in ("call", "setup"):
            if not isinstance(getattr(self, key), str):
                raise TaskError(f"{where}: '{key}' must be a string, got {type(getattr(self, key)).__name__}")
        if not self.call.strip():
            raise TaskError(f"{where}: 'call' is empty")
        if (self.expected is None) == (self.raises is None):
            raise TaskError(f"{where}: set exactly one of 'expected' and 'raises'")
        if self.expected is not None:
            if not isinstance(self.expected, str):
                raise TaskError(f"{where}: 'expected' must be a Python literal as text, got "
                                f"{type(self.expected).__name__}")
            try:
                safe_ast.literal_eval(self.expected)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                raise TaskError(f"{where}: expected is not a Python literal: {exc}") from None
        if self.raises is not None and (not isinstance(self.raises, str) or not self.raises.isidentifier()):
            raise TaskError(f"{where}: 'raises' must name an exception class, got {self.raises!r}")
        if self.role is not None and self.role not in ROLES:
            raise TaskError(f"{where}: role must be one of {ROLES}, got {self.role!r}")

    def expected_value(self) -> Any:
        """The expected value, parsed from its literal text."""
        if self.expected is None:
            raise ValueError(f"test {self.name!r} expects an exception, not a value")
        return safe_ast.literal_eval(self.expected)

    def describe_call(self) -> str:
        """The test's call as shown to the agent, setup included."""
        if self.setup:
            return self.setup.strip().replace("\n", "; ") + "; " + self.call
        return self.call

    def describe_expectation(self) -> str:
        """``raises X`` or the expected literal."""
        return f"raises {self.raises}" if self.raises else str(self.expected)

    def to_payload(self) -> dict[str, str]:
        """The part of the test the sandbox child may see (no expected value)."""
        return {"name": self.name, "setup": self.setup, "call": self.call}

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        d: dict[str, Any] = {"name": self.name, "call": self.call}
        for key in ("expected", "raises"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.setup:
            d["setup"] = self.setup
        if self.approx:
            d["approx"] = True
        if self.role is not None:
            d["role"] = self.role
        return d


@dataclass(frozen=True)
class Task:
    """A debugging task. Only ``buggy``, ``description`` and the visible tests reach the agent.

    ``reference``, ``hidden_tests``, ``bug_description`` and ``provenance`` never appear in an
    observation.
    """

    name: str
    difficulty: Difficulty
    entry_point: str
    description: str
    reference: str
    buggy: str
    tests: tuple[TestSpec, ...]
    hidden_tests: tuple[TestSpec, ...]
    bug_type: str = ""
    bug_description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    max_steps: int | None = None

    def __post_init__(self) -> None:
        """Validate every field: a ``Task`` that exists is one an episode can run."""
        from tracefix_rl.core.errors import TaskError

        if not isinstance(self.name, str) or not self.name:
            raise TaskError(f"a task needs a non-empty string 'name', got {self.name!r}")
        where = f"task {self.name!r}"
        if self.difficulty not in DIFFICULTIES:
            raise TaskError(f"{where}: difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if not isinstance(self.entry_point, str) or not self.entry_point.isidentifier():
            raise TaskError(f"{where}: 'entry_point' must be a function name, got {self.entry_point!r}")
        for key in ("description", "reference", "buggy", "bug_type", "bug_description"):
            if not isinstance(getattr(self, key), str):
                raise TaskError(f"{where}: '{key}' must be a string, got {type(getattr(self, key)).__name__}")
        for key in ("reference", "buggy"):
            if not getattr(self, key).strip():
                raise TaskError(f"{where}: '{key}' is empty")
        for key in ("tests", "hidden_tests", "aliases"):  # lists are accepted and kept as tuples
            value = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
            elif not isinstance(value, tuple):
                raise TaskError(f"{where}: '{key}' must be a sequence, got {type(value).__name__}")
        for key in ("tests", "hidden_tests"):
            if not all(isinstance(test, TestSpec) for test in getattr(self, key)):
                raise TaskError(f"{where}: every entry of '{key}' must be a TestSpec")
        if not self.tests:
            raise TaskError(f"{where} has no visible tests")
        if not self.hidden_tests:
            raise TaskError(f"{where} has no hidden tests")
        names = [test.name for test in self.all_tests]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise TaskError(f"{where}: test names are not unique ({', '.join(duplicated)})")
        if not all(isinstance(alias, str) for alias in self.aliases):
            raise TaskError(f"{where}: 'aliases' must be strings")
        if self.max_steps is not None and (type(self.max_steps) is not int or self.max_steps < 1):
            raise TaskError(f"{where}: 'max_steps' must be a positive integer, got {self.max_steps!r}")
        if not isinstance(self.provenance, dict):
            raise TaskError(f"{where}: 'provenance' must be a table, got {type(self.provenance).__name__}")

    @property
    def all_tests(self) -> tuple[TestSpec, ...]:
        """Visible tests followed by hidden tests (what SUBMIT runs)."""
        return self.tests + self.hidden_tests

    @property
    def has_roles(self) -> bool:
        """Whether every test carries its FAIL_TO_PASS / PASS_TO_PASS role (a validated task)."""
        return all(t.role is not None for t in self.all_tests)

    def with_roles(self, failing: set[str]) -> Task:
        """A copy whose tests are FAIL_TO_PASS when named in ``failing`` (tests the buggy program
        fails), PASS_TO_PASS otherwise. Called by the validators, never by grading."""
        import dataclasses

        def assign(tests: tuple[TestSpec, ...]) -> tuple[TestSpec, ...]:
            return tuple(dataclasses.replace(t, role=FAIL_TO_PASS if t.name in failing else PASS_TO_PASS)
                         for t in tests)

        return dataclasses.replace(self, tests=assign(self.tests), hidden_tests=assign(self.hidden_tests))

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain data (the task-pack record)."""
        return {
            "name": self.name, "difficulty": self.difficulty, "entry_point": self.entry_point,
            "description": self.description, "reference": self.reference, "buggy": self.buggy,
            "tests": [t.to_dict() for t in self.tests],
            "hidden_tests": [t.to_dict() for t in self.hidden_tests],
            "bug_type": self.bug_type, "bug_description": self.bug_description,
            "provenance": self.provenance, "aliases": list(self.aliases), "max_steps": self.max_steps,
        }

    @property
    def content_hash(self) -> str:
        """SHA-256 over every field: two tasks with the same hash behave identically."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def tests_hash(self) -> str:
        """SHA-256 over visible and hidden tests only (recorded at reset and at submit)."""
        blob = json.dumps([t.to_dict() for t in self.all_tests], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Build a task from plain data, validating field types and test shapes."""
        from tracefix_rl.core.errors import TaskError

        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise TaskError("task has no 'name'")
        try:
            for key in ("tests", "hidden_tests"):
                if not isinstance(data.get(key, []), list | tuple) or not all(
                        isinstance(t, dict) for t in data.get(key, [])):
                    raise TaskError(f"task {name!r}: '{key}' must be a list of tables")
            aliases = data.get("aliases", [])
            if not isinstance(aliases, list | tuple):
                raise TaskError(f"task {name!r}: 'aliases' must be a list of strings")
            for key in ("reference", "buggy"):
                if not isinstance(data[key], str):
                    raise TaskError(f"task {name!r}: '{key}' must be a string")
            return cls(
                name=name, difficulty=data["difficulty"], entry_point=data["entry_point"],
                description=str(data.get("description", "")).strip(),
                reference=_program(data["reference"]), buggy=_program(data["buggy"]),
                tests=tuple(_test_from_dict(name, t) for t in data.get("tests", ())),
                hidden_tests=tuple(_test_from_dict(name, t) for t in data.get("hidden_tests", ())),
                bug_type=str(data.get("bug_type", "")), bug_description=str(data.get("bug_description", "")),
                provenance=dict(data.get("provenance") or {}), aliases=tuple(aliases), max_steps=data.get("max_steps"),
            )
        except KeyError as exc:
            raise TaskError(f"task {name!r} is missing field {exc.args[0]!r}") from None


def entry_call(test: TestSpec, entry_point: str) -> tuple[str, bool] | None:
    """The argument text ``"((a, b), {'k': v})"`` of the test's first call of ``entry_point``.

    The flag says whether that call is the whole test expression (so its value is the
    expected value). ``None`` when the test never calls the entry point by name, or passes
    ``*args``/``**kwargs``.
    """
    try:
        tree = safe_ast.parse(test.call, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point:
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                return None
            args = "".join(ast.unparse(a) + ", " for a in node.args)
            kwargs = ", ".join(f"{k.arg!r}: {ast.unparse(k.value)}" for k in node.keywords)
            return f"(({args}), {{{kwargs}}})", node is tree.body
    return None


def input_key(test: TestSpec, entry_point: str | None = None) -> str:
    """What a hard-coder would key on: the test's input, as the visible listing shows it.

    When the test calls ``entry_point`` with literal arguments and no setup, the key is the
    canonical encoding of the argument values (``f([1, 2])`` and ``f([1,2])`` share a key);
    otherwise it is the normalised source of the setup and the call.
    """
    found = entry_call(test, entry_point) if entry_point else None
    if found is not None and not test.setup:
        try:
            return "value:" + canonical(safe_ast.literal_eval(found[0]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    parts = []
    for code in (test.setup, test.call):
        try:
            parts.append(ast.unparse(safe_ast.parse(code)) if code else "")
        except SyntaxError:
            parts.append(code)
    return "source:" + "\n".join(parts)


def fixed_expectation(test: TestSpec, entry_point: str | None = None) -> bool:
    """Whether the test's expected value is fixed by its shape, not computed by the program.

    ``bool(...)`` tests expect ``True`` and whole-``check(f)`` tests expect ``None`` whatever the
    input: their verdict is reached inside the sandbox, so a program that subverts the harness
    (or reports ``True`` for every such test) passes them. Only tests that compare a value the
    program computes, outside the sandbox, can prove a fix.
    """
    found = entry_call(test, entry_point) if entry_point else None
    return test.expected in ("True", "None") and not (found is not None and found[1])


def _program(text: str) -> str:
    text = text.strip("\n")
    return text + "\n"


def _test_from_dict(task: str, d: dict[str, Any]) -> TestSpec:
    from tracefix_rl.core.errors import TaskError

    if "name" not in d or "call" not in d:
        raise TaskError(f"task {task!r}: every test needs 'name' and 'call', got {sorted(d)}")
    expected = d.get("expected")
    try:
        return TestSpec(name=str(d["name"]), call=str(d["call"]), expected=None if expected is None else str(expected),
                        raises=d.get("raises"), setup=str(d.get("setup", "")), approx=bool(d.get("approx", False)),
                        role=d.get("role"))
    except TaskError as exc:
        raise TaskError(f"task {task!r}, {exc}") from None
