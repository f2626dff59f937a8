"""Incremental syntax checks of large programs give exactly what a whole parse gives."""

from __future__ import annotations

import ast
import random
from typing import Any

import pytest

from tracefix_rl.engines.syntax import INCREMENTAL_MIN_LINES, check_syntax, parsed_tree
from tracefix_rl.env._editor import Buffer

_UNITS = [
    "def f{i}(x):\n    return x + {i}\n",
    "@staticmethod\ndef g{i}(y):\n    if y:\n        return 1\n    return 2\n",
    "class C{i}:\n    a = {i}\n\n    def m(self):\n        return (1,\n                2)\n",
    "x{i} = 1; y{i} = 2\n",
    "s{i} = '''\nnot code {i}\n'''\n",
    "# comment {i}\n\n",
    "try:\n    pass\nexcept Exception:\n    pass\n",
    "if x{i}:\n    pass\nelif y:\n    pass\nelse:\n    pass\n",
    "match v{i}:\n    case 1:\n        pass\n",
]
# Blocks an agent might write, valid and not: unclosed brackets and strings, stray indentation,
# trailing continuations, dangling decorators and else clauses, statements glued to their
# neighbours, and the carriage return the tokenizer counts as a line break.
_BLOCKS = [
    "return x", "y = (1,", "z = 3", "    w = 4", "'''", "x = 1 \\", "\\", "@dec", "else:", "pass",
    "def h():\n    return 5", "if q:", "", "elif z:\n    pass", "case = 3", "lambda: (", ")", "a = [\n1,\n2]",
    "print('hi')\r\nz = 1", "x = 1; \\", "except ValueError:\n    pass", "# just a comment", "\"\"\"doc",
    "from __future__ import annotations", "class K:\n    pass", "async def k():\n    await x",
]


def _nodes(tree: Any, lo: int, hi: int) -> list[tuple[str, int, int]] | None:
    # What the security-flag scan reads from a tree: the nodes starting on the edited lines.
    if tree is None:
        return None
    return sorted((type(n).__name__, n.lineno, n.col_offset) for n in ast.walk(tree)
                  if lo <= getattr(n, "lineno", 0) <= hi)


def _program(rng: random.Random) -> str:
    text = ""
    i = 0
    while text.count("\n") < INCREMENTAL_MIN_LINES + 20:
        text += rng.choice(_UNITS).format(i=i)
        i += 1
    return text


@pytest.mark.parametrize("seed", range(6))
def test_edits_of_a_large_program_report_what_a_whole_parse_reports(seed: int) -> None:
    rng = random.Random(seed)
    buf = Buffer(_program(rng))
    assert buf.syntax().ok
    for _ in range(150):
        n = buf.line_count
        start = rng.randrange(1, n + 2)
        end = min(n + 1, start + rng.randrange(0, 4))
        block = rng.choice(_BLOCKS)
        if rng.random() < 0.3:
            block = "\n".join(rng.choice(_BLOCKS) for _ in range(rng.randrange(1, 4)))
        if not block.strip() and end - start > 2:
            continue
        lo, hi = buf.replace(start, end, block)
        assert buf.syntax() == check_syntax(buf.source), (start, end, block)
        if buf.syntax().ok and hi >= lo:
            assert _nodes(parsed_tree(buf.source, lo, hi), lo, hi) in (None, _nodes(ast.parse(buf.source), lo, hi))
        if rng.random() < 0.1:
            buf.undo()
            assert buf.syntax() == check_syntax(buf.source)
        if not buf.syntax().ok or "__future__" in block or "\r" in block:
            buf.undo()  # mostly go on from a program that parses: that is where checks are incremental


def test_the_tree_of_an_incremental_check_carries_the_programs_line_numbers() -> None:
    rng = random.Random(7)
    buf = Buffer(_program(rng))
    assert buf.syntax().ok
    line = buf.line_count - 5
    buf.replace(line, line, "marker_name = 1")
    assert buf.syntax().ok
    tree = parsed_tree(buf.source, line, line)
    names = [n for n in ast.walk(tree) if getattr(n, "id", None) == "marker_name"]
    assert [n.lineno for n in names] == [line]

