"""Mutation engine, validation and difficulty rating."""

from __future__ import annotations

import ast

import pytest

from tracefix_rl.data.tasks import TestSpec as Spec
from tracefix_rl.data.tasks._difficulty import EASY_BELOW, HARD_FROM, rate, simple_repair_finds, tier_of
from tracefix_rl.data.tasks._validate import check_reference, has_hint, validate_candidate
from tracefix_rl.engines.mutation import (
    OPERATORS,
    MutationError,
    apply_mutations,
    find_sites,
    normalized,
    sample_mutants,
)

REQUIRED = {"off_by_one_const", "off_by_one_range", "arith_swap", "compare_swap", "condition_flip", "bool_op_swap",
            "wrong_variable", "swap_arguments", "remove_statement", "missing_return", "missing_accumulator",
            "wrong_slice", "wrong_initial_value", "wrong_builtin", "broken_base_case", "invert_if"}


def _one(source: str, operator: str, note: str | None = None, choice: int | None = None):
    sites = [s for s in find_sites(source, [operator]) if (note is None or s.note == note)
             and (choice is None or s.choice == choice)]
    assert sites, f"no {operator} site ({note}) in\n{source}"
    return apply_mutations(source, [sites[0]])


def test_operator_set_is_documented_and_large_enough():
    assert REQUIRED <= set(OPERATORS)
    assert len(OPERATORS) >= 12
    for op in OPERATORS.values():
        assert type(op).__doc__ and len(type(op).__doc__) > 30, op.name


CASES = [
    # (operator, program, note, expected changed line)
    ("off_by_one_const", "def f(x):\n    return x + 2\n", "2 -> 3", "    return x + 3"),
    ("off_by_one_const", "def f(x):\n    return x[0]\n", "0 -> -1", "    return x[-1]"),
    ("off_by_one_range", "def f(n):\n    return list(range(n))\n", "range stop + 1", "    return list(range(n + 1))"),
    ("off_by_one_range", "def f(n):\n    return list(range(1, n))\n", "range start - 1", "    return list(range(0, n))"),
    ("off_by_one_range", "def f(xs):\n    return list(range(len(xs) - 1))\n", "range stop + 1",
     "    return list(range(len(xs)))"),
    ("arith_swap", "def f(a, b):\n    return a + b\n", "+ -> -", "    return a - b"),
    ("arith_swap", "def f(a, b):\n    a *= b\n    return a\n", "* -> //", "    a //= b"),
    ("compare_swap", "def f(a, b):\n    return a < b\n", "< -> <=", "    return a <= b"),
    ("compare_swap", "def f(a, b):\n    return a in b\n", "in -> not in", "    return a not in b"),
    ("condition_flip", "def f(x):\n    if x > 0:\n        return 1\n    return 0\n", None, "    if not x > 0:"),
    ("condition_flip", "def f(x):\n    if not x:\n        return 1\n    return 0\n", None, "    if x:"),
    ("bool_op_swap", "def f(a, b):\n    return a and b\n", None, "    return a or b"),
    ("wrong_variable", "def f(a, b):\n    return a\n", "a -> b", "    return b"),
    ("swap_arguments", "def f(a, b):\n    return pow(a, b)\n", "arguments 1 and 2 swapped", "    return pow(b, a)"),
    ("swap_arguments", "def f(a, b):\n    return a - b\n", "operands of - swapped", "    return b - a"),
    ("missing_return", "def f(x):\n    y = x * 2\n    return y\n", None, "    return"),
    ("wrong_slice", "def f(s):\n    return s[1:]\n", "slice lower bound + 1", "    return s[2:]"),
    ("wrong_slice", "def f(s):\n    return s[:3]\n", "slice upper bound dropped", "    return s[:]"),
    ("wrong_slice", "def f(s):\n    return s[::-1]\n", "slice step sign flipped", "    return s[::1]"),
    ("wrong_initial_value", "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n",
     "0 -> 1", "    total = 1"),
    ("wrong_initial_value", "def f(xs):\n    best = float('inf')\n    return min(xs + [best])\n", None,
     "    best = float('-inf')"),
    ("wrong_builtin", "def f(xs):\n    return max(xs)\n", "max -> min", "    return min(xs)"),
    ("wrong_builtin", "def f(xs, y):\n    xs.append(y)\n    return xs\n", ".append -> .extend", "    xs.extend(y)"),
    ("wrong_builtin", "def f(s):\n    return s.lower()\n", ".lower -> .upper", "    return s.upper()"),
]


@pytest.mark.parametrize(("operator", "program", "note", "line"), CASES)
def test_each_operator_changes_exactly_the_expected_line(operator, program, note, line):
    mutant = _one(program, operator, note)
    (mutation,) = mutant.mutations
    assert mutation.operator == operator
    assert mutant.source.splitlines()[mutation.line - 1] == line
    assert mutation.mutated == line
    assert mutation.original == program.splitlines()[mutation.reference_line - 1]
    changed = [a for a, b in zip(program.splitlines(), mutant.source.splitlines(), strict=False) if a != b]
    assert len(changed) <= 1
    assert normalized(mutant.source) != normalized(program)


def test_statement_removal_and_missing_accumulator_record_deleted_lines():
    program = "def f(xs):\n    out = []\n    total = 0\n    for x in xs:\n        total += x\n        out.append(x)\n    return total, out\n"
    acc = _one(program, "missing_accumulator")
    assert "total += x" not in acc.source and acc.mutations[0].mutated is None
    assert acc.mutations[0].original == "        total += x"
    rm = _one(program, "remove_statement", "expr statement removed")
    assert "out.append(x)" not in rm.source
    only = "def f(xs):\n    for x in xs:\n        xs.append(x)\n    return xs\n"
    emptied = _one(only, "remove_statement")
    assert "        pass" in emptied.source.splitlines()  # the loop body stays valid
    ast.parse(emptied.source)


def test_broken_base_case_and_invert_if():
    program = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"
    notes = {s.note for s in find_sites(program, ["broken_base_case"])}
    assert notes == {"base-case comparison changed", "base-case value changed", "base case removed"}
    removed = _one(program, "broken_base_case", "base case removed")
    assert "if n" not in removed.source and removed.mutations[0].mutated is None
    loosened = _one(program, "broken_base_case", "base-case comparison changed")
    assert "    if n < 1:" in loosened.source.splitlines()
    value = _one(program, "broken_base_case", "base-case value changed")
    assert value.source.splitlines()[2] == "        return 0" and value.mutations[0].line == 3
    assert find_sites("def f(n):\n    if n <= 1:\n        return 1\n    return n\n", ["broken_base_case"]) == []
    inv = _one("def f(x):\n    if x:\n        return 1\n    else:\n        return 2\n", "invert_if")
    assert inv.source == "def f(x):\n    if x:\n        return 2\n    else:\n        return 1\n"
    elif_chain = "def f(x):\n    if x == 1:\n        return 1\n    elif x == 2:\n        return 2\n    else:\n        return 3\n"
    assert [s.line for s in find_sites(elif_chain, ["invert_if"])] == []


def test_formatting_and_comments_outside_the_mutation_are_kept():
    program = 'def f(xs):\n    # keep me\n    label = "total"   # and me\n    return {label: sum(xs) + 1}\n'
    mutant = _one(program, "off_by_one_const", "1 -> 2")
    assert mutant.source == 'def f(xs):\n    # keep me\n    label = "total"   # and me\n    return {label: sum(xs) + 2}\n'
    flip = _one('def f(c):\n    if c != " ":\n        return 1\n    return 0\n', "condition_flip")
    assert '    if not c != " ":' in flip.source.splitlines()  # quotes are not restyled


def test_multi_mutation_line_shifts_and_overlap():
    program = "def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    n = len(out)\n    return n + 1\n"
    rm = next(s for s in find_sites(program, ["remove_statement"]) if s.line == 2)
    const = next(s for s in find_sites(program, ["off_by_one_const"]) if s.line == 6)
    mutant = apply_mutations(program, [rm, const])
    by_op = {m.operator: m for m in mutant.mutations}
    assert by_op["off_by_one_const"].reference_line == 6
    assert by_op["off_by_one_const"].line == 5  # one line above: line 2 was deleted
    assert mutant.source.splitlines()[4] == "    return n + 2"
    a, b = [s for s in find_sites(program, ["off_by_one_const"]) if s.line == 6][:2]
    with pytest.raises(MutationError):
        apply_mutations(program, [a, b])


def test_module_level_code_is_never_mutated():
    program = "LIMIT = 10\n\n\ndef f(x):\n    return x < LIMIT\n"
    assert all(s.line >= 4 for s in find_sites(program))


def test_sample_mutants_is_seeded_distinct_and_balanced():
    program = ("def f(xs, k):\n    total = 0\n    for i in range(len(xs)):\n        if xs[i] > k and i % 2 == 0:\n"
               "            total += xs[i] * 2\n    return max(total, k - 1)\n")
    a = [m.source for m in sample_mutants(program, 3, max_mutations=3, limit=60)]
    b = [m.source for m in sample_mutants(program, 3, max_mutations=3, limit=60)]
    c = [m.source for m in sample_mutants(program, 4, max_mutations=3, limit=60)]
    assert a == b and a != c
    norms = [normalized(s) for s in a]
    assert len(set(norms)) == len(norms) and normalized(program) not in norms
    mutants = list(sample_mutants(program, 3, max_mutations=3, limit=200))
    first_ops = [m.operators[0] for m in mutants[:10]]
    assert len(set(first_ops)) >= 8  # round-robin over operators, not 10 wrong_variable sites
    assert any(len(m.mutations) == 3 for m in mutants) and any(len(m.mutations) == 2 for m in mutants)
    for m in mutants:
        lines = [x.reference_line for x in m.mutations]
        assert len(set(lines)) == len(lines)


TESTS = (Spec(name="t1", call="add(1, 2)", expected="3"), Spec(name="t2", call="add(0, 0)", expected="0"))
HIDDEN = (Spec(name="h1", call="add(-1, 1)", expected="0"), Spec(name="h2", call="add(5, 5)", expected="10"))
REF = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(("candidate", "reason"), [
    ("def add(a, b):\n    return a - b\n", "ok"),
    ("def add(a, b)\n    return a\n", "syntax"),
    ("def add(a, b):\n    return a - b  # BUG here\n", "hint"),
    ("def add(a, b):\n    # a comment\n    return (a + b)\n", "same_as_reference"),
    ("def add(a, b):\n    while True:\n        pass\n", "hangs"),
    ("def add(a, b):\n    return a + b if a != 5 else 0\n", "passes_visible"),
    ("def add(a, b):\n    return a + b if a != 1 else 0\n", "passes_hidden"),
    ("def add(a, b):\n    return b + a\n", "passes_all"),
])
def test_validate_candidate_reasons(candidate, reason):
    verdict = validate_candidate(REF, candidate, TESTS, HIDDEN)
    assert verdict.reason == reason, verdict
    assert verdict.ok == (reason == "ok")


def test_hangs_are_allowed_for_imports_and_reference_check():
    hang = "def add(a, b):\n    while True:\n        pass\n"
    assert validate_candidate(REF, hang, TESTS, HIDDEN, allow_hang=True).ok
    assert check_reference(REF, TESTS, HIDDEN).ok
    bad = check_reference("def add(a, b):\n    return 3\n", TESTS, HIDDEN)
    assert not bad.ok and bad.reason == "fails_own_tests" and "t2" in bad.detail
    assert has_hint("x = 1  # TODO") and has_hint("# fixme") and not has_hint("debugger = 1")


def test_difficulty_formula_and_tiers():
    easy = rate(operators=["missing_return"], bug_lines=[3], fail_fraction=1.0, failing_lines=[3], simple_repair=True)
    assert easy.score == 0.0 and easy.tier == "easy" and easy.pointer == "bug_line"
    hard = rate(operators=["compare_swap", "wrong_variable", "broken_base_case"], bug_lines=[2, 5, 9],
                fail_fraction=0.1, failing_lines=[None], simple_repair=False)
    assert hard.score == pytest.approx(2 + 1.35 + 1.0 + 1.0 + 0.5)
    assert hard.tier == "hard" and hard.pointer == "none" and hard.distance is None
    mid = rate(operators=["off_by_one_const"], bug_lines=[4], fail_fraction=0.5, failing_lines=[8], simple_repair=True)
    assert mid.pointer == "elsewhere" and mid.distance == 4
    assert mid.score == pytest.approx(0.75 + 0.75 + 0.25 + 0.3)
    assert tier_of(EASY_BELOW - 0.01) == "easy" and tier_of(EASY_BELOW) == "medium" and tier_of(HARD_FROM) == "hard"


def test_simple_repair_finds_invertible_bugs_only():
    program = "def f(a, b):\n    x = a + b\n    print(x)\n    return x\n"
    swapped = _one(program, "arith_swap")
    assert simple_repair_finds(swapped.source, program, swapped.lines)
    removed = _one(program, "remove_statement", "expr statement removed")
    assert not simple_repair_finds(removed.source, program, removed.lines)


# --- the built-in corpus ------------------------------------------------------------------


def test_corpus_has_sixty_programs_across_every_category():
    from tracefix_rl.data.tasks._corpus import CATEGORIES, corpus_programs

    programs = corpus_programs()
    assert len(programs) >= 60
    assert {p.category for p in programs} == set(CATEGORIES)
    names = [p.name for p in programs]
    assert len(set(names)) == len(names)
    assert len({normalized(p.reference) for p in programs}) == len(programs)
    for p in programs:
        assert len(p.reference.splitlines()) <= 45, f"{p.name} does not fit on one screen"
        assert len(p.tests) >= 3 and len(p.hidden_tests) >= 3, p.name
        assert not has_hint(p.reference) and not has_hint(p.name), p.name
        assert p.description, p.name
        assert find_sites(p.reference), p.name


def test_every_corpus_reference_passes_all_of_its_tests():
    from concurrent.futures import ThreadPoolExecutor

    from tracefix_rl.data.tasks._corpus import corpus_programs

    programs = corpus_programs()
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda p: check_reference(p.reference, p.tests, p.hidden_tests), programs))
    failures = [(p.name, v.detail) for p, v in zip(programs, verdicts, strict=True) if not v.ok]
    assert failures == []


def test_corpus_files_are_named_after_their_program(tmp_path):
    from tracefix_rl.core.errors import TaskError
    from tracefix_rl.data.tasks._corpus import CORPUS_DIR, load_program_file

    text = (CORPUS_DIR / "gcd_recursive.toml").read_text()
    (tmp_path / "other.toml").write_text(text)
    with pytest.raises(TaskError, match="file name"):
        load_program_file(tmp_path / "other.toml")
    (tmp_path / "gcd_recursive.toml").write_text(text.replace("[[hidden_tests]]", "[[ignored]]"))
    with pytest.raises(TaskError, match="visible and hidden"):
        load_program_file(tmp_path / "gcd_recursive.toml")


def test_a_new_operator_is_one_self_contained_class(monkeypatch):
    """The engine asks the operator for its span and removal; adding one touches nothing else."""
    from tracefix_rl.engines.mutation import Operator

    class DropElse(Operator):
        """Deletes the statement ``return -1`` (a whole-statement removal the engine must render)."""

        name = "drop_return_minus_one"
        node_types = (ast.Return,)
        subtlety = 0.9

        def sites(self, ctx, node):
            if isinstance(node.value, ast.UnaryOp) and ast.unparse(node) == "return -1":
                yield 0, "return -1 removed"

        def apply(self, ctx, node, choice):
            from tracefix_rl.engines.mutation._context import remove_statement
            remove_statement(ctx, node)

        def span(self, ctx, node, choice):
            return node, True

        def removes(self, choice):
            return True

    monkeypatch.setitem(OPERATORS, DropElse.name, DropElse())
    source = "def f(xs, x):\n    for i, v in enumerate(xs):\n        if v == x:\n            return i\n    return -1\n"
    mutant = _one(source, "drop_return_minus_one")
    assert mutant.source == "def f(xs, x):\n    for i, v in enumerate(xs):\n        if v == x:\n            return i\n"
    assert all(o.subtlety is not None and 0.0 <= o.subtlety <= 1.0 for o in OPERATORS.values())


def test_a_hanging_candidate_stops_at_its_first_timeout_and_is_rejected():
    from tracefix_rl.data.tasks._validate import _run, scaled_validation_limits

    hang = "def add(a, b):\n    while True:\n        pass\n"
    limits = scaled_validation_limits(0.01)
    run = _run(hang, TESTS, HIDDEN, limits, stop_at_timeout=True)
    statuses = [r.status for r in run.results]
    assert statuses[0] == "timeout" and set(statuses[1:]) == {"not_run"}, statuses
    assert validate_candidate(REF, hang, TESTS, HIDDEN, limits=limits).reason == "hangs"
    # allowed to hang (imports): every test still gets its own status
    settled = _run(hang, TESTS, HIDDEN, limits, settle=True)
    assert all(r.status == "timeout" for r in settled.results)


def test_validation_limits_scale_with_the_reference_within_the_floor_and_the_cap():
    from tracefix_rl.data.tasks._validate import FLOOR_PER_TEST_S, VALIDATION_LIMITS, scaled_validation_limits

    fixed = scaled_validation_limits(None)
    assert fixed.per_test_s == VALIDATION_LIMITS["per_test_s"] and fixed.wall_s == VALIDATION_LIMITS["wall_s"]
    per_test = [scaled_validation_limits(ms).per_test_s for ms in (0.0, 0.3, 1.0, 1.5, 2.0, 3.0, 50.0, 1e6)]
    assert per_test == sorted(per_test)  # a slower reference never tightens them
    assert per_test[0] == FLOOR_PER_TEST_S and per_test[-1] == VALIDATION_LIMITS["per_test_s"]
    # timing jitter within one power of two does not change them
    assert scaled_validation_limits(1.1).per_test_s == scaled_validation_limits(1.9).per_test_s
    assert all(scaled_validation_limits(ms).wall_s == VALIDATION_LIMITS["wall_s"] for ms in (0.1, 5.0, 500.0))
