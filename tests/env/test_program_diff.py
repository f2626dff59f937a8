"""The diff a recorded step stores."""

from __future__ import annotations

import difflib

from tracefix_rl.env._render import program_diff


def test_the_recorded_diff_of_a_large_program_covers_only_the_edit_and_numbers_lines_in_the_whole_text() -> None:
    before = "".join(f"v{i} = {i}\n" for i in range(600))
    after = before.replace("v300 = 300\n", "v300 = -300\nextra = 1\n")
    diff = program_diff(before, after)
    assert diff == "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                "before/program.py", "after/program.py"))
    assert "@@ -298,7 +298,8 @@" in diff
    small_before, small_after = "a = 1\nb = 2\n", "a = 1\nb = 3\n"
    assert program_diff(small_before, small_after) == "".join(difflib.unified_diff(
        small_before.splitlines(True), small_after.splitlines(True), "before/program.py", "after/program.py"))
    assert program_diff(before, before) == ""
