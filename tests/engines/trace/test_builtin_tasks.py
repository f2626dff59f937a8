"""Round trip over every built-in task: trace, parse, render gives the identical string; 100 on every metric."""

from __future__ import annotations

import collections
import doctest

import pytest

import tracefix_rl.engines.trace.format
import tracefix_rl.engines.trace.metrics
import tracefix_rl.engines.trace.tracer
from tracefix_rl.data.tasks import builtin_tasks
from tracefix_rl.engines.trace import trace_in_sandbox
from tracefix_rl.engines.trace.format import parse_generated_trace, render_frames_to_generation
from tracefix_rl.engines.trace.metrics import METRIC_LABELS, aggregate, score_trace
from tracefix_rl.engines.trace.tracer import trace_program

SKIPPED: collections.Counter[str] = collections.Counter()


def _cases():
    for task in builtin_tasks().values():
        for variant in ("reference", "buggy"):
            for test in task.tests:
                yield pytest.param(task, variant, test, id=f"{task.name}-{variant}-{test.name}")


@pytest.mark.parametrize(("task", "variant", "test"), list(_cases()))
def test_builtin_task_round_trip(task, variant, test):
    source = getattr(task, variant)
    r = trace_program(source, call=test.call, setup=test.setup, timeout_s=3.0)
    if r.truncated:
        SKIPPED[r.truncation_reason] += 1
        pytest.skip(f"ground truth truncated: {r.truncation_reason}")
    frames, ok = parse_generated_trace(r.text)
    assert ok and frames == r.frames
    assert render_frames_to_generation(frames) == r.text
    agg = aggregate([score_trace(r.completion, r.text, seeded_frames=r.seeded_frames)])
    assert all(agg[m] == 100.0 for m in METRIC_LABELS), agg


def test_some_builtin_traces_were_checked():
    assert builtin_tasks(), "no built-in tasks"
    total = sum(len(t.tests) * 2 for t in builtin_tasks().values())
    assert sum(SKIPPED.values()) < total, f"every trace was skipped: {dict(SKIPPED)}"


def test_one_builtin_task_through_the_sandbox():
    task = next(iter(builtin_tasks().values()))
    test = task.tests[0]
    r = trace_in_sandbox(task.buggy, call=test.call, setup=test.setup)
    assert r.frames == trace_program(task.buggy, call=test.call, setup=test.setup).frames


@pytest.mark.parametrize("module", [tracefix_rl.engines.trace.format, tracefix_rl.engines.trace.metrics, tracefix_rl.engines.trace.tracer])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
