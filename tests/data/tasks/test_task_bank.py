"""The built-in task bank: every task is sound, and the bank has the required shape.

These tests run the programs in the real sandbox (no mocks): the reference must pass every
visible and hidden test, and the buggy program must fail at least one visible test.
"""

from __future__ import annotations

import ast
import re
from collections import Counter

import pytest

from tracefix_rl.data.tasks import DIFFICULTIES, builtin_tasks, get_task, list_tasks
from tracefix_rl.data.tasks._registry import BUILTIN_DIR
from tracefix_rl.data.tasks._validate import check_task
from tracefix_rl.engines.judge import run_tests

TASKS = builtin_tasks()
NAMES = list(TASKS)

ORIGINAL_TIERS = {
    "sum_even_wrong_condition": "easy",
    "sum_even_missing_accumulator": "easy",
    "reverse_string_wrong_step": "easy",
    "reverse_string_returns_original": "easy",
    "binary_search_off_by_one": "medium",
    "binary_search_wrong_mid": "medium",
    "flatten_missing_recursion": "medium",
    "flatten_inverted_branch": "medium",
    "word_count_no_lower": "medium",
    "word_count_no_punct_strip": "medium",
    "lru_cache_wrong_eviction": "hard",
    "lru_cache_no_promotion": "hard",
    "valid_parentheses_wrong_mapping": "hard",
    "valid_parentheses_no_empty_check": "hard",
    "merge_intervals_strict_overlap": "hard",
    "merge_intervals_missing_sort": "hard",
}

ALIASES = {
    "task1_easy": ("reverse_string_returns_original", "easy"),
    "task2_medium": ("binary_search_off_by_one", "medium"),
    "task3_hard": ("valid_parentheses_wrong_mapping", "hard"),
}

HINT = re.compile(r"\b(BUG|FIXME|TODO|HACK|XXX)\b", re.IGNORECASE)


def _defined_names(source: str) -> set[str]:
    tree = ast.parse(source)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _failures(run) -> list[str]:
    return [
        f"{r.test_name}: expected {r.expected}, got {r.actual or r.error_message}"
        for r in run.results
        if not r.passed
    ]


# --------------------------------------------------------------------------- per task


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_every_test(name: str) -> None:
    task = TASKS[name]
    run = run_tests(task.reference, task.all_tests)
    assert not run.infra_error, run.detail
    assert run.total == len(task.all_tests)
    assert run.passed == run.total, _failures(run)


@pytest.mark.parametrize("name", NAMES)
def test_buggy_fails_a_visible_test(name: str) -> None:
    task = TASKS[name]
    run = run_tests(task.buggy, task.tests)
    assert not run.infra_error, run.detail
    assert run.syntax_error is None, "the buggy program must compile"
    assert run.module_error is None, "the buggy program must load"
    assert run.passed < run.total, f"{name}: the buggy program passes every visible test"


@pytest.mark.parametrize("name", NAMES)
def test_stored_roles_and_hidden_tests_pass_the_validator(name: str) -> None:
    task = TASKS[name]
    problems = check_task(task)
    if problems:  # say exactly what to write into the TOML file
        run = run_tests(task.buggy, task.all_tests)
        roles = [f"{r.test_name}: role = {'fail_to_pass' if not r.passed else 'pass_to_pass'!r}" for r in run.results]
        pytest.fail(f"{name}: {problems}; the validation run gives {roles}")


@pytest.mark.parametrize("name", NAMES)
def test_buggy_differs_from_reference(name: str) -> None:
    task = TASKS[name]
    assert task.buggy.strip() != task.reference.strip()
    # Whitespace can matter (an indentation bug), so also compare the syntax trees.
    assert ast.dump(ast.parse(task.buggy)) != ast.dump(ast.parse(task.reference))


@pytest.mark.parametrize("name", NAMES)
def test_no_hints_reach_the_agent(name: str) -> None:
    task = TASKS[name]
    seen = [task.buggy, task.description] + [t.describe_call() for t in task.all_tests]
    for text in seen:
        assert not HINT.search(text), f"{name}: hint marker in {text!r}"
    assert "#" not in task.buggy, f"{name}: the buggy program carries a comment"
    assert task.bug_description, f"{name}: bug_description is empty"
    assert task.bug_description.strip() not in task.description
    assert task.description, f"{name}: description is empty"


@pytest.mark.parametrize("name", NAMES)
def test_file_stem_is_the_name(name: str) -> None:
    assert (BUILTIN_DIR / f"{name}.toml").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_entry_point_defined_in_both_programs(name: str) -> None:
    task = TASKS[name]
    assert task.entry_point in _defined_names(task.reference)
    assert task.entry_point in _defined_names(task.buggy)


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name: str) -> None:
    task = TASKS[name]
    assert task.difficulty in DIFFICULTIES
    assert task.bug_type
    assert task.provenance.get("source") in ("original TraceFix-RL task bank", "TraceFix-RL built-in")
    assert task.provenance.get("author")
    assert 3 <= len(task.tests) <= 5, len(task.tests)
    assert 4 <= len(task.hidden_tests) <= 8, len(task.hidden_tests)
    for test in task.all_tests:
        assert test.name.startswith("test_")
    if name in ORIGINAL_TIERS:
        assert task.provenance["source"] == "original TraceFix-RL task bank"


# --------------------------------------------------------------------------- the bank


def test_bank_size_and_tiers() -> None:
    assert len(TASKS) >= 30
    per_tier = Counter(t.difficulty for t in TASKS.values())
    for tier in DIFFICULTIES:
        assert per_tier[tier] >= 8, per_tier
        assert [t.name for t in list_tasks(tier)] == sorted(
            n for n, t in TASKS.items() if t.difficulty == tier
        )


def test_every_toml_file_is_loaded() -> None:
    stems = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))
    assert stems == sorted(TASKS)


@pytest.mark.parametrize(("name", "tier"), sorted(ORIGINAL_TIERS.items()))
def test_original_names_keep_their_tiers(name: str, tier: str) -> None:
    assert name in TASKS
    assert TASKS[name].difficulty == tier


@pytest.mark.parametrize(("alias", "target"), sorted(ALIASES.items()))
def test_aliases_resolve(alias: str, target: tuple[str, str]) -> None:
    name, tier = target
    task = get_task(alias)
    assert task.name == name
    assert task.difficulty == tier
    assert alias.endswith(tier)


def test_names_and_aliases_unique() -> None:
    aliases = [a for t in TASKS.values() for a in t.aliases]
    everything = list(TASKS) + aliases
    assert len(everything) == len(set(everything)), Counter(everything).most_common(3)


def test_programs_are_short_and_import_only_allowed_modules() -> None:
    allowed = {
        "collections",
        "heapq",
        "bisect",
        "itertools",
        "functools",
        "math",
        "re",
        "string",
        "typing",
        "dataclasses",
        "operator",
    }
    for task in TASKS.values():
        for source in (task.reference, task.buggy):
            assert len(source.splitlines()) <= 40, task.name
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    mods = {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom):
                    mods = {(node.module or "").split(".")[0]}
                else:
                    continue
                assert mods <= allowed, (task.name, mods)
