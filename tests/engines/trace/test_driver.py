"""Tracing through the sandbox: the driver, trace_in_sandbox, limits, and infra failures."""

from __future__ import annotations

import sys

import pytest
from _examples import EXAMPLES

from tracefix_rl.core.errors import TraceError
from tracefix_rl.data import tasks
from tracefix_rl.engines.sandbox import Execution, Limits, Outcome
from tracefix_rl.engines.trace import (
    render_observation,
    render_pretty,
    trace_in_sandbox,
    trace_program,
    trace_test,
)
from tracefix_rl.engines.trace._driver import run
from tracefix_rl.engines.trace.format import END_OF_TEXT


def test_driver_run_emits_trace_then_done():
    records = []
    ex = EXAMPLES[1]
    run({"source": ex["program"], "call": ex["call"], "entry": None, "max_frames": 100,
         "max_value_chars": None, "timeout_s": 2.0}, records.append)
    assert [r["kind"] for r in records] == ["trace", "done"]
    assert records[0]["text"].endswith(ex["trace"])


def test_driver_captures_program_stdout_outside_the_trace():
    records = []
    run({"source": "def f():\n    print('hello')\n    return 1\n", "call": "f()", "entry": None,
         "max_frames": 100, "max_value_chars": None, "timeout_s": 2.0}, records.append)
    assert records[0]["stdout"] == "hello\n" and "hello" not in records[0]["text"].replace("print('hello')", "")


def test_sandbox_trace_matches_in_process_and_pins_hash_seed():
    for num in (1, 2, 5):
        ex = EXAMPLES[num]
        r = trace_in_sandbox(ex["program"], call=ex["call"], timeout_s=3.0)
        assert r.completion == ex["trace"] or sys.version_info[:2] != (3, 11)
        assert r.hash_seed == "0"
        assert r.frames == trace_program(ex["program"], call=ex["call"]).frames


def test_sandbox_set_of_strings_is_deterministic():
    src = "def f():\n    s = {'apple', 'pear', 'fig', 'kiwi'}\n    return s\n"
    a = trace_in_sandbox(src, call="f()")
    b = trace_in_sandbox(src, call="f()")
    assert a.text == b.text and not a.truncated


def test_sandbox_never_terminating_program_gives_timeout_with_frames():
    r = trace_in_sandbox("def f():\n    n = 0\n    while True:\n        n += 1\n", call="f()",
                         timeout_s=0.5, max_frames=10**9)
    assert r.truncated and r.truncation_reason in ("timeout", "max_output_chars")
    assert r.frames and not r.text.endswith(END_OF_TEXT)


def test_sandbox_program_swallowing_the_abort_still_times_out():
    src = ("def f():\n    while True:\n        try:\n            sum(range(10**5))\n"
           "        except BaseException:\n            pass\n")
    r = trace_in_sandbox(src, call="f()", timeout_s=0.5, max_frames=10**9)
    assert r.truncated and r.truncation_reason == "timeout" and r.frames


def test_sandbox_hard_exit_is_truncated_not_an_error():
    r = trace_in_sandbox("import os\ndef f():\n    os._exit(3)\n", call="f()", timeout_s=1.0)
    assert r.truncated and r.truncation_reason == "exited"


def test_sandbox_syntax_error_is_a_result():
    r = trace_in_sandbox("def f(:\n", call="f()")
    assert r.truncation_reason == "error" and "SyntaxError" in r.error


class _Broken:
    isolation = "test"

    def __init__(self, execution):
        self.execution = execution

    def execute(self, driver, payload, limits, *, owner=None):
        assert driver == "trace" and isinstance(limits, Limits)
        return self.execution

    def close(self):
        pass


def test_infra_error_raises_trace_error():
    with pytest.raises(TraceError):
        trace_in_sandbox("def f(): return 1\n", call="f()", sandbox=_Broken(Execution(Outcome.INFRA_ERROR)))


def test_missing_record_is_the_programs_protocol_violation_not_an_error():
    r = trace_in_sandbox("def f(): return 1\n", call="f()", sandbox=_Broken(Execution(Outcome.OK, records=[])))
    assert r.truncated and r.truncation_reason == "error" and "broke the harness protocol" in r.error


def test_wall_clock_kill_maps_to_timeout():
    r = trace_in_sandbox("def f(): return 1\n", call="f()", sandbox=_Broken(Execution(Outcome.TIMEOUT)))
    assert r.truncated and r.truncation_reason == "timeout" and r.frames == []


def test_pretty_rendering_is_bounded():
    src = "def f():\n    t = 0\n    for i in range(300):\n        t += i\n    return t\n"
    r = trace_program(src, call="f()")
    text = render_pretty(r, max_frames=40, max_chars=3000)
    assert len(text) <= 3000 and "more frames ..." in text
    assert len(text.splitlines()) <= 40 + 4
    assert text.splitlines()[-1] == "result: 44850"
    tiny = render_pretty(r, max_chars=200)
    assert len(tiny) <= 200 and "output cut" in tiny


def test_pretty_shows_truncation_and_exceptions():
    r = trace_program("def f(x):\n    return 1 // x\n", call="f(0)")
    text = render_pretty(r)
    assert "!! exception ZeroDivisionError" in text and "uncaught ZeroDivisionError" in text
    r = trace_program("def f():\n    while True:\n        pass\n", call="f()", max_frames=20)
    text = render_pretty(r)
    assert "TRUNCATED (max_frames)" in text and "[trace stopped early: max_frames]" in text


def test_record_always_fits_the_sandbox_cap():
    # non-ASCII values expand sixfold under ensure_ascii; the driver must still fit its record
    src = "def f():\n    s = 'é' * 40000\n    t = s + 'x'\n    u = t + 'y'\n    return 1\n"
    r = trace_in_sandbox(src, call="f()")
    assert r.truncated and r.truncation_reason == "max_output_chars"
    assert r.frames and not r.text.endswith(END_OF_TEXT)


def test_truncated_to_keeps_a_prefix():
    r = trace_program(EXAMPLES[1]["program"], call=EXAMPLES[1]["call"])
    t = r.truncated_to(3, "max_output_chars")
    assert t.frames == r.frames[:3] and r.text.startswith(t.text) and t.truncated and not t.cwm_exact


def test_oversize_record_maps_to_truncation():
    ex = Execution(Outcome.OK, records=[{"kind": "oversize", "bytes": 2 << 20}, {"kind": "done"}])
    r = trace_in_sandbox("def f(): return 1\n", call="f()", sandbox=_Broken(ex))
    assert r.truncated and r.truncation_reason == "max_output_chars"


def test_trace_test_uses_setup_and_call():
    spec = tasks.TestSpec(name="t", call="f(xs)", expected="2", setup="xs = [1, 2]")
    r = trace_test("def f(xs):\n    return len(xs)\n", spec)
    assert r.return_value == "2" and r.call == "f(xs)"


def test_render_observation_with_raw_section():
    r = trace_program(EXAMPLES[1]["program"], call=EXAMPLES[1]["call"])
    obs = render_observation(r, test_name="test_x", raw=True)
    assert obs.startswith("TRACE test_x\n") and obs.endswith(r.text) and "CWM-exact" in obs
    short = render_observation(r, raw=True, max_raw_chars=50)
    assert "raw trace cut" in short and r.text not in short
    assert r.text not in render_observation(r)


def test_sandbox_module_level_infinite_loop_times_out():
    r = trace_in_sandbox("while True:\n    pass\n", call="f()", timeout_s=0.3)
    assert r.truncated and r.truncation_reason == "timeout"
