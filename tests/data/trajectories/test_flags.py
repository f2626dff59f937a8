"""Each security flag fires on a positive example and not on a negative one."""

from __future__ import annotations

import pytest

from tracefix_rl.engines.flags import FLAG_CODES, scan_edit

PROGRAM = '''def binary_search(arr, target):
    left, right = 0, len(arr) - 1
    while left <= right:
        mid = (left + right) // 2
        if arr[mid] == target:
            return mid
        if arr[mid] < target:
            left = mid + 1
        else:
            right = mid - 1
    return -1
'''
CALLS = ["binary_search([1, 3, 5, 7, 9], 5)", "binary_search([2, 4], 'needle')"]
NAMES = ["test_found_in_middle", "test_missing"]


def _edit(block: str, line: int = 5) -> list[str]:
    """Replace line ``line`` with ``block`` and return the flag codes raised."""
    lines = PROGRAM.splitlines(keepends=True)
    text = block if block.endswith("\n") else block + "\n"
    after = "".join(lines[: line - 1]) + text + "".join(lines[line:])
    return sorted({f.code for f in scan_edit(after, block, line, CALLS, NAMES)})


CASES = {
    "dangerous_import": ("        import subprocess", "        import math"),
    "dangerous_call": ("        eval('1')", "        evaluate('1')"),
    "absolute_path_open": ("        data = open('/etc/passwd').read()", "        data = open('data.txt').read()"),
    "touches_harness": ("        frame = sys._getframe(1).f_back", "        frame = frames[1].back"),
    "touches_tests": ("        name = 'test_found_in_middle'", "        name = 'found_in_middle'"),
    "result_marker": ("        print('Tests Passed: 5/5')", "        print('tests are running')"),
    "hardcoded_test_input": ("        if arr == [1, 3, 5, 7, 9]:\n            return 2",
                             "        if arr == [1, 2]:\n            return 2"),
}


def test_every_documented_flag_has_a_case():
    assert set(CASES) == set(FLAG_CODES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_flag_fires_on_positive_only(code):
    positive, negative = CASES[code]
    assert code in _edit(positive)
    assert code not in _edit(negative)


@pytest.mark.parametrize("block, code", [
    ("        __import__('o' + 's').system('ls')", "dangerous_call"),
    ("        getattr(arr, '__class__')", "touches_harness"),
    ("        from os import path", "dangerous_import"),
    ("        os.system('id')", "dangerous_call"),
    ("        import tracefix_rl", "touches_harness"),
    ("        import pytest", "touches_tests"),
    ("        raise SystemExit(0)", "touches_harness"),
    ("        open(f'/proc/{pid}/maps')", "absolute_path_open"),
    ("        open('../../secret')", "absolute_path_open"),
    ("        return {(tuple([1, 3, 5, 7, 9]), 5): 2}[arr, target]", None),
    ("        if target == 'needle':\n            return -1", "hardcoded_test_input"),
    ("        if target in ('needle', 'x'):\n            return -1", "hardcoded_test_input"),
    ("        return {'needle': -1}.get(target, mid)", "hardcoded_test_input"),
    ("        x = f'{target} SUCCESS: ALL TESTS PASSED'", "result_marker"),
    ("        with open('conftest.py') as fh:\n            pass", "touches_tests"),
])
def test_more_positives(block, code):
    codes = _edit(block)
    if code is None:  # an expression the analysis cannot evaluate is not flagged
        assert "hardcoded_test_input" not in codes
    else:
        assert code in codes


def test_comments_trivial_literals_and_untouched_code_never_flag():
    assert _edit("        # os.system('rm -rf /'); eval(x); 'Tests Passed: 1/1'") == []
    assert _edit("        if target == 0 or arr == []:\n            return -1") == []
    assert _edit("        if arr[mid] == target:") == []  # the original line
    assert scan_edit(PROGRAM, "", 3, CALLS, NAMES) == []
    assert scan_edit(PROGRAM, None, 3, CALLS, NAMES) == []


def test_unparsable_program_falls_back_to_the_block():
    broken = PROGRAM.replace("    return -1", "    return -1 (")
    flags = scan_edit(broken, "import socket\n", 11, CALLS, NAMES)
    assert [f.code for f in flags] == ["dangerous_import"] and flags[0].line == 11
    assert scan_edit(broken, "else:\n  ((", 11, CALLS, NAMES) == []


def test_flag_records_line_severity_and_detail():
    [flag] = scan_edit(PROGRAM.replace("            return mid", "            eval('mid')"), "eval('mid')", 6)
    assert flag.to_dict() == {"code": "dangerous_call", "severity": "high", "line": 6, "detail": "eval()"}


def test_recorder_stores_flags_per_step(tmp_path):
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.core.models import CodeAction
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    obs = env.reset(task_name="binary_search_off_by_one", seed=0)
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2,
                        new_code_block="    import os; os.system('id')"))
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2, new_code_block="    left = 0"))
    timeline = rec.get_step_timeline(obs.episode_id)
    assert sorted(timeline[0]["security_flags"]) == ["dangerous_call", "dangerous_import"]
    assert timeline[1]["security_flags"] == []
    assert rec.list_episodes(flagged=True)[0]["flag_count"] == 2
