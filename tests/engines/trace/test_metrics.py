"""Metrics: Table 9 positional metrics, aligned metrics, return value, and self-scoring."""

from __future__ import annotations

import pytest
from _examples import EXAMPLES

from tracefix_rl.engines.trace.format import FRAME_SEP, parse_generated_trace
from tracefix_rl.engines.trace.metrics import (
    ALIGNED_METRICS,
    APPROX_TOKENIZER,
    METRIC_LABELS,
    POSITIONAL_METRICS,
    aggregate,
    score_trace,
    trace_statistics,
)
from tracefix_rl.engines.trace.tracer import trace_program


def _segments(text):
    body = text.removesuffix("<|end_of_text|>")
    return [s + FRAME_SEP for s in body.split(FRAME_SEP)[:-1]]


def _join(segs):
    return "".join(segs) + "<|end_of_text|>"


@pytest.mark.parametrize("num", sorted(EXAMPLES))
def test_ground_truth_scores_100_against_itself(num):
    ex = EXAMPLES[num]
    r = trace_program(ex["program"], call=ex["call"])
    agg = aggregate([score_trace(r.completion, r.text, seeded_frames=1)])
    assert all(agg[m] == 100.0 for m in METRIC_LABELS), agg


def test_repeated_seed_frame_is_accepted():
    r = trace_program(EXAMPLES[1]["program"], call=EXAMPLES[1]["call"])
    s = score_trace(r.text, r.text, seeded_frames=1)
    assert s.action_exact_match == 1.0 and s.aligned_f1 == 1.0


def test_one_missing_frame_collapses_positional_but_not_aligned():
    gt = EXAMPLES[1]["trace"]
    segs = _segments(gt)
    pred = _join(segs[:2] + segs[3:])  # drop one line frame near the start
    s = score_trace(pred, gt)
    assert s.valid_trace_format == 1.0
    assert s.action_exact_match < 0.5
    assert s.aligned_recall == pytest.approx((len(segs) - 1) / len(segs))
    assert s.aligned_precision == 1.0
    # the frame after the gap shows '..' that now resolves against a different base
    assert s.aligned_state_exact_match > 0.8
    assert s.return_value_match == 1.0


def test_one_extra_frame():
    gt = EXAMPLES[1]["trace"]
    segs = _segments(gt)
    extra = '<|line_sep|>{"n": ".."}<|action_sep|>    pass\n<|frame_sep|>'
    pred = _join(segs[:3] + [extra] + segs[3:])
    s = score_trace(pred, gt)
    assert s.aligned_recall == 1.0 and s.aligned_precision < 1.0
    assert s.aligned_state_exact_match == 1.0
    assert s.state_exact_match < 0.5


def test_full_value_where_truth_has_placeholder_counts_only_in_positional():
    gt = EXAMPLES[1]["trace"]
    pred = gt.replace('{"n": ".."}<|action_sep|>    total = 0', '{"n": "3"}<|action_sep|>    total = 0')
    s = score_trace(pred, gt)
    n_state = sum(1 for f in parse_generated_trace(gt)[0] if f.has_locals)
    assert s.state_exact_match == pytest.approx((n_state - 1) / n_state)
    assert s.aligned_state_exact_match == 1.0


def test_wrong_value_and_keys():
    gt = '<|call_sep|>{"a": "1", "b": "2"}<|action_sep|>def f(a, b):\n<|frame_sep|><|end_of_text|>'
    pred = '<|call_sep|>{"a": "1", "c": "2"}<|action_sep|>def f(a, b):\n<|frame_sep|><|end_of_text|>'
    s = score_trace(pred, gt)
    assert s.key_match == pytest.approx(1 / 3)
    assert s.key_value_match == pytest.approx(1 / 3)
    assert s.state_exact_match == 0.0 and s.action_exact_match == 1.0


def test_unresolvable_placeholder_is_wrong_in_aligned_metrics():
    gt = '<|call_sep|>{"a": "1"}<|action_sep|>def f(a):\n<|frame_sep|><|end_of_text|>'
    pred = '<|call_sep|>{"a": ".."}<|action_sep|>def f(a):\n<|frame_sep|><|end_of_text|>'
    s = score_trace(pred, gt)
    assert s.aligned_state_exact_match == 0.0 and s.aligned_key_value_match == 0.0
    assert s.aligned_key_match == 1.0


def test_invalid_json_and_malformed_trace():
    gt = EXAMPLES[1]["trace"]
    pred = gt.replace('{"n": ".."}<|action_sep|>    total = 0', '{"n": ..}<|action_sep|>    total = 0')
    s = score_trace(pred, gt)
    assert s.valid_trace_format == 1.0 and s.valid_json < 1.0
    s = score_trace("nonsense", gt)
    assert s.valid_trace_format == 0.0 and s.action_exact_match == 0.0 and s.return_value_match == 0.0


def test_return_value_literal_equivalence():
    gt = '<|return_sep|><|action_sep|>    return x\n<|arg_sep|>"[1, 2]"<|frame_sep|><|end_of_text|>'
    assert score_trace(gt.replace("[1, 2]", "[1,2]"), gt).return_value_match == 1.0
    assert score_trace(gt.replace("[1, 2]", "(1, 2)"), gt).return_value_match == 0.0
    assert score_trace(gt.replace("[1, 2]", "[2, 1]"), gt).return_value_match == 0.0


def test_truncated_prediction_is_reported():
    gt = EXAMPLES[1]["trace"]
    s = score_trace(gt.removesuffix("<|end_of_text|>"), gt)
    assert s.truncated_prediction and s.valid_trace_format == 1.0
    assert aggregate([s])["truncated_predictions"] == 1.0


def test_aggregate_is_a_macro_average():
    gt = EXAMPLES[1]["trace"]
    perfect = score_trace(gt, gt)
    bad = score_trace("junk", gt)
    agg = aggregate([perfect, bad])
    assert agg["n"] == 2 and agg["valid_trace_format"] == 50.0


def test_metric_name_sets_are_declared():
    assert set(POSITIONAL_METRICS) | set(ALIGNED_METRICS) | {"return_value_match"} == set(METRIC_LABELS)


def test_trace_statistics_counts_declared_tokens():
    frames, _ = parse_generated_trace(EXAMPLES[1]["trace"])
    stats = trace_statistics(frames)
    assert stats["tokenizer"] == APPROX_TOKENIZER and "not the CWM tokenizer" in stats["tokenizer"]
    # '{"n": "3"}' -> { " n " : space " 3 " } = 10 tokens; 'def f(n):' -> def, space, f ( n ) : = 7
    assert trace_statistics(frames[1:2]) == {"avg_state_length": 10.0, "avg_action_length": 7.0,
                                             "tokenizer": APPROX_TOKENIZER}
    assert stats["avg_state_length"] > 0 and stats["avg_action_length"] > 0
