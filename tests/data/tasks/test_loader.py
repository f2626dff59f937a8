"""Loading task files: malformed data is rejected with a clear TaskError."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tracefix_rl.core.errors import TaskError, UnknownTaskError
from tracefix_rl.data.tasks import Task, get_task, load_task_file

GOOD = textwrap.dedent('''
    name = "{name}"
    difficulty = "easy"
    entry_point = "double"
    bug_type = "wrong_operator"
    description = "double(x) returns 2 * x."
    bug_description = "adds instead of multiplying"
    provenance = {{ source = "test", author = "hand-written" }}
    reference = """
    def double(x):
        return 2 * x
    """
    buggy = """
    def double(x):
        return 2 + x
    """

    [[tests]]
    name = "test_three"
    call = "double(3)"
    expected = "6"

    [[hidden_tests]]
    name = "test_zero"
    call = "double(0)"
    expected = "0"
''')


def _write(tmp_path: Path, text: str, stem: str = "double_task") -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _good(name: str = "double_task") -> str:
    return GOOD.format(name=name)


def test_good_file_loads(tmp_path: Path) -> None:
    task = load_task_file(_write(tmp_path, _good()))
    assert isinstance(task, Task)
    assert task.name == "double_task"
    assert task.entry_point == "double"
    assert [t.name for t in task.tests] == ["test_three"]
    assert [t.name for t in task.hidden_tests] == ["test_zero"]
    assert task.tests[0].expected_value() == 6
    assert task.reference.startswith("def double") and task.reference.endswith("\n")


def test_malformed_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, _good() + "\nthis is = = not toml\n")
    with pytest.raises(TaskError, match="invalid TOML"):
        load_task_file(path)


@pytest.mark.parametrize("field", ["entry_point", "reference", "buggy", "difficulty"])
def test_missing_field(tmp_path: Path, field: str) -> None:
    if field in ("reference", "buggy"):  # a multi-line string: drop its body as well
        head, rest = _good().split(f'{field} = """', 1)
        text = head + rest.split('"""', 1)[1]
    else:
        text = "\n".join(line for line in _good().splitlines() if not line.startswith(f"{field} ="))
    with pytest.raises(TaskError, match=field):
        load_task_file(_write(tmp_path, text))


def test_missing_name(tmp_path: Path) -> None:
    text = _good().replace('name = "double_task"\n', "", 1)
    with pytest.raises(TaskError, match="name"):
        load_task_file(_write(tmp_path, text))


def test_bad_difficulty(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="difficulty"):
        load_task_file(_write(tmp_path, _good().replace('"easy"', '"impossible"')))


def test_both_expected_and_raises(tmp_path: Path) -> None:
    text = _good().replace('expected = "6"', 'expected = "6"\nraises = "ValueError"')
    with pytest.raises(TaskError, match="exactly one"):
        load_task_file(_write(tmp_path, text))


def test_neither_expected_nor_raises(tmp_path: Path) -> None:
    text = _good().replace('expected = "6"\n', "")
    with pytest.raises(TaskError, match="exactly one"):
        load_task_file(_write(tmp_path, text))


@pytest.mark.parametrize("literal", ["six", "double(3)", "[1, 2", "__import__('os')"])
def test_non_literal_expected(tmp_path: Path, literal: str) -> None:
    text = _good().replace('expected = "6"', f"expected = '''{literal}'''")
    with pytest.raises(TaskError, match="not a Python literal"):
        load_task_file(_write(tmp_path, text))


def test_duplicate_test_names(tmp_path: Path) -> None:
    text = _good().replace('name = "test_zero"', 'name = "test_three"')
    with pytest.raises(TaskError, match="not unique"):
        load_task_file(_write(tmp_path, text))


def test_test_without_call(tmp_path: Path) -> None:
    text = _good().replace('call = "double(0)"\n', "")
    with pytest.raises(TaskError, match="'call'"):
        load_task_file(_write(tmp_path, text))


def test_no_visible_tests(tmp_path: Path) -> None:
    text = _good().split("[[tests]]")[0] + "[[hidden_tests]]" + _good().split("[[hidden_tests]]")[1]
    with pytest.raises(TaskError, match="no visible tests"):
        load_task_file(_write(tmp_path, text))


def test_no_hidden_tests(tmp_path: Path) -> None:
    text = _good().split("[[hidden_tests]]")[0]
    with pytest.raises(TaskError, match="no hidden tests"):
        load_task_file(_write(tmp_path, text))


def test_file_stem_must_equal_name(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="file name"):
        load_task_file(_write(tmp_path, _good("other_name")))


def test_unknown_task_suggests_close_matches() -> None:
    with pytest.raises(UnknownTaskError) as info:
        get_task("binary_search_of_by_one")
    message = str(info.value)
    assert "unknown task 'binary_search_of_by_one'" in message
    assert "did you mean" in message and "binary_search_off_by_one" in message


def test_unknown_alias_suggests_close_matches() -> None:
    with pytest.raises(UnknownTaskError, match="task2_medium"):
        get_task("task2_medum")


def test_unknown_task_without_close_match() -> None:
    with pytest.raises(UnknownTaskError) as info:
        get_task("zzzz")
    assert "did you mean" not in str(info.value)
    assert isinstance(info.value, KeyError)  # callers may catch it as a KeyError


def test_structural_type_errors_are_task_errors():
    from tracefix_rl.core.errors import TaskError
    from tracefix_rl.data.tasks import Task

    good = {"name": "t", "difficulty": "easy", "entry_point": "f", "reference": "def f(): return 1",
            "buggy": "def f(): return 2", "tests": [{"name": "a", "call": "f()", "expected": "1"}],
            "hidden_tests": [{"name": "b", "call": "f()", "expected": "1"}]}
    assert Task.from_dict(good).name == "t"
    for patch, message in [({"tests": ["x"]}, "list of tables"), ({"aliases": "abc"}, "list of strings"),
                           ({"max_steps": "10"}, "positive integer"), ({"max_steps": 0}, "positive integer")]:
        with pytest.raises(TaskError, match=message):
            Task.from_dict({**good, **patch})


def _spec(**kw):
    from tracefix_rl.core.task import TestSpec
    return TestSpec(**{"name": "t", "call": "f(1)", "expected": "1", **kw})


@pytest.mark.parametrize(("change", "message"), [
    ({"name": ""}, "non-empty string 'name'"),
    ({"call": "  "}, "'call' is empty"),
    ({"expected": None}, "exactly one of 'expected' and 'raises'"),
    ({"raises": "ValueError"}, "exactly one of 'expected' and 'raises'"),
    ({"expected": "f(x)"}, "not a Python literal"),
    ({"expected": None, "raises": "not a class"}, "must name an exception class"),
    ({"role": "fail-to-pass"}, "role must be one of"),
])
def test_a_test_spec_built_directly_is_validated(change, message):
    with pytest.raises(TaskError, match=message):
        _spec(**change)


@pytest.mark.parametrize(("change", "message"), [
    ({"name": ""}, "non-empty string 'name'"),
    ({"difficulty": "impossible"}, "difficulty must be one of"),
    ({"entry_point": "not a name"}, "'entry_point' must be a function name"),
    ({"buggy": "   "}, "'buggy' is empty"),
    ({"tests": ()}, "no visible tests"),
    ({"hidden_tests": ()}, "no hidden tests"),
    ({"hidden_tests": ("t",)}, "must be a TestSpec"),
    ({"max_steps": 0}, "'max_steps' must be a positive integer"),
    ({"max_steps": True}, "'max_steps' must be a positive integer"),
])
def test_a_task_built_directly_is_validated(change, message):
    from tracefix_rl.core.task import Task

    fields = {"name": "x", "difficulty": "easy", "entry_point": "f", "description": "", "reference": "def f(a): return a\n",
              "buggy": "def f(a): return 0\n", "tests": (_spec(),), "hidden_tests": (_spec(name="h"),)}
    with pytest.raises(TaskError, match=message):
        Task(**{**fields, **change})


def test_duplicate_test_names_are_named():
    from tracefix_rl.core.task import Task

    with pytest.raises(TaskError, match=r"not unique \(t\)"):
        Task(name="x", difficulty="easy", entry_point="f", description="", reference="def f(a): return a\n",
             buggy="def f(a): return 0\n", tests=[_spec()], hidden_tests=[_spec()])
