"""Unit tests of the agent loop's pure parts: line formats, score clamping, JSON extraction."""

from __future__ import annotations

import pytest

from tracefix_rl.agents.llm import extract_json, format_end, format_start, format_step
from tracefix_rl.core.scoring import clamp_score


@pytest.mark.parametrize(("raw", "printed"), [(0.0, 0.01), (0.004, 0.01), (0.005, 0.01), (1.0, 0.98),
                                               (0.996, 0.98), (0.5, 0.5), (None, 0.01), (float("nan"), 0.01),
                                               (-3, 0.01), ("0.42", 0.42)])
def test_score_is_clamped_after_rounding(raw, printed):
    assert clamp_score(raw) == printed
    assert 0 < float(f"{clamp_score(raw):.2f}") < 1


def test_line_formats():
    assert format_start("task1_easy", "tracefix_rl", "m") == "[START] task=task1_easy env=tracefix_rl model=m"
    assert (format_step(3, "RUN_TESTS", -0.01, False, None)
            == "[STEP] step=3 action=RUN_TESTS reward=-0.01 done=false error=null")
    assert (format_step(1, "REPLACE_LINES", 0.0, True, "bad range\nsecond line")
            == "[STEP] step=1 action=REPLACE_LINES reward=0.00 done=true error=bad range second line")
    assert format_end(True, 2, 1.0, [0.5, 0.25]) == "[END] success=true steps=2 score=0.98 rewards=0.50,0.25"
    assert format_end(False, 0, 0.0, []) == "[END] success=false steps=0 score=0.01 rewards="
    assert format_step(2, "VIEW_CODE", -0.001, False, "") == "[STEP] step=2 action=VIEW_CODE reward=0.00 done=false error=null"
    assert format_end(False, 1, 0.5, [-0.004]) == "[END] success=false steps=1 score=0.50 rewards=0.00"


def test_extract_json_tolerates_fences_and_prose():
    assert extract_json('{"action_type": "SUBMIT"}') == {"action_type": "SUBMIT"}
    assert extract_json('Sure:\n```json\n{"action_type": "VIEW_CODE"}\n```') == {"action_type": "VIEW_CODE"}
    assert extract_json('I will run {"action_type": "RUN_TESTS"} now') == {"action_type": "RUN_TESTS"}
    assert extract_json('[{"action_type": "SUBMIT"}]') == {"action_type": "SUBMIT"}
    with pytest.raises(ValueError):
        extract_json("no json here")
