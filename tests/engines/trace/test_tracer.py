"""The in-process tracer: worked examples byte for byte, coverage of the CPython 3.11 rules, limits."""

from __future__ import annotations

import sys

import pytest
from _examples import EXAMPLES

from tracefix_rl.core.errors import TraceError
from tracefix_rl.engines.trace.format import (
    END_OF_TEXT,
    START_MARKER,
    TraceEvent,
    parse_trace,
    render_frames_to_generation,
)
from tracefix_rl.engines.trace.tracer import build_context, trace_program

py311 = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="CWM-exact output is defined for CPython 3.11")


def _frames(text):
    return text.split("<|frame_sep|>")


def _check_example(num):
    ex = EXAMPLES[num]
    r = trace_program(ex["program"], call=ex["call"])
    assert r.context == ex["context"]
    assert r.completion == ex["trace"], "\n".join(
        f"got {a!r}\nexp {b!r}" for a, b in zip(_frames(r.completion), _frames(ex["trace"]), strict=False) if a != b)
    assert r.seed == "<|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|>"
    assert r.text == r.seed + ex["trace"]
    if ex["prompt"] is not None:
        assert r.prompt == ex["prompt"]
    assert not r.truncated and r.cwm_exact and r.non_cwm == []
    return r


@py311
def test_example_1_loop_byte_exact():
    r = _check_example(1)
    assert r.return_value == "3" and r.exception_rendering is None


@py311
def test_example_2_callee_in_comprehension_byte_exact():
    r = _check_example(2)
    assert r.return_value == "5"


@py311
def test_example_3_caught_exception_byte_exact_unverified_rules():
    """Exception VALUE and the `..` base after an exception frame are UNVERIFIED against CWM."""
    r = _check_example(3)
    assert r.exception_rendering == "unverified" and r.uncaught_exception is None


@py311
def test_example_4_genexpr_resumes_byte_exact():
    """Resume rules are confirmed; the spec groups the example with the unverified ones."""
    r = _check_example(4)
    assert r.return_value == "1"


@py311
def test_example_5_exception_in_callee_byte_exact_unverified_rules():
    """Propagating exception frames and the callee's `return None` are UNVERIFIED against CWM."""
    r = _check_example(5)
    assert r.exception_rendering == "unverified"


def test_frames_match_parsed_text_and_round_trip():
    for ex in EXAMPLES.values():
        r = trace_program(ex["program"], call=ex["call"])
        assert parse_trace(r.text).frames == r.frames
        assert render_frames_to_generation(r.frames) == r.text
        assert len(r.linenos) == len(r.frames)


def test_official_layout_entry_mode():
    src = "def f():\n    x = 1\n    return x\n"
    r = trace_program(src, entry="f")
    assert r.context == "def f():" + START_MARKER + "\n    x = 1\n    return x\n"
    assert r.text.startswith('<|call_sep|>{}<|action_sep|>def f():\n<|frame_sep|>')
    assert r.completion == r.text and r.seeded_frames == 0
    assert r.prompt.endswith("<|frame_sep|>") and r.text.endswith(END_OF_TEXT)


def test_exactly_one_of_entry_and_call():
    with pytest.raises(TraceError):
        trace_program("def f(): pass\n")
    with pytest.raises(TraceError):
        trace_program("def f(): pass\n", entry="f", call="f()")


def test_wrapper_renamed_when_program_uses_main():
    ctx, name = build_context("def main(x):\n    return x\n", call="main(1)")
    assert name == "_main" and "def _main():" + START_MARKER in ctx
    r = trace_program("def main(x):\n    return x\n", call="main(1)")
    assert r.return_value == "1" and not r.truncated


def test_lambda_called_from_builtin_is_traced():
    r = trace_program("def f(xs):\n    return sorted(xs, key=lambda x: -x)\n", call="f([1, 2])")
    calls = [f for f in r.frames if f.event is TraceEvent.CALL]
    assert [c.locals for c in calls] == [{}, {"xs": "[1, 2]"}, {"x": "1"}, {"x": "2"}]
    assert r.return_value == "[2, 1]"


def test_nested_calls_reset_diff_base():
    src = "def g(a):\n    return a + 1\ndef f(a):\n    b = g(a)\n    c = g(b)\n    return c\n"
    r = trace_program(src, call="f(1)")
    lines_in_f = [f.locals for f in r.frames if f.event is TraceEvent.LINE and f.source.startswith("    c")]
    # first line frame after g returned: every local in full, even the unchanged `a`
    assert lines_in_f == [{"a": "1", "b": "2"}]


def test_recursion_activations_are_separate():
    src = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"
    r = trace_program(src, call="fact(3)")
    assert [f.locals["n"] for f in r.frames if f.event is TraceEvent.CALL and f.locals] == ["3", "2", "1"]
    rets = [f.arg for f in r.frames if f.event is TraceEvent.RETURN]
    assert rets == ["1", "2", "6", "6"]


def test_list_set_dict_comprehensions_have_frames():
    src = ("def f(xs):\n    a = [x for x in xs]\n    b = {x for x in xs}\n"
           "    c = {x: x for x in xs}\n    return len(a) + len(b) + len(c)\n")
    r = trace_program(src, call="f([1])")
    comp_calls = [f for f in r.frames if f.event is TraceEvent.CALL and ".0" in (f.locals or {})]
    assert len(comp_calls) == 3
    assert r.return_value == "3"


def test_generator_resumes_show_full_locals_and_yielded_values():
    src = "def gen(n):\n    for i in range(n):\n        yield i * 2\ndef f():\n    return list(gen(2))\n"
    r = trace_program(src, call="f()")
    gen_calls = [f.locals for f in r.frames if f.event is TraceEvent.CALL and f.source != "def f():"][1:]
    assert gen_calls == [{"n": "2"}, {"n": "2", "i": "0"}, {"n": "2", "i": "1"}]
    gen_rets = [f.arg for f in r.frames if f.event is TraceEvent.RETURN][:3]
    assert gen_rets == ["0", "2", "None"]


def test_uncaught_exception_ends_with_entry_exception_and_return():
    r = trace_program("def f(x):\n    return 1 // x\n", call="f(0)")
    assert not r.truncated and r.text.endswith(END_OF_TEXT)
    assert [f.event for f in r.frames[-2:]] == [TraceEvent.EXCEPTION, TraceEvent.RETURN]
    assert r.frames[-1].arg == "None"
    assert r.uncaught_exception["type"] == "ZeroDivisionError"
    assert r.return_value is None and r.exception_rendering == "unverified"


def test_caught_exception_is_labelled_unverified():
    src = "def f(s):\n    try:\n        return int(s)\n    except ValueError:\n        return 0\n"
    r = trace_program(src, call="f('z')")
    assert r.exception_rendering == "unverified" and r.return_value == "0"
    assert r.cwm_exact  # labelled, but still produced by the documented rules


def test_objects_with_addresses_and_custom_repr():
    src = ("class A:\n    pass\nclass B:\n    def __repr__(self):\n        return 'B!'\n"
           "def f():\n    a = A()\n    b = B()\n    return [a, b]\n")
    r = trace_program(src, call="f()")
    assert " at 0x" not in r.text
    assert r.return_value == "[<__main__.A object>, B!]"


def test_unrepr_object_is_labelled_non_cwm():
    src = "class A:\n    def __repr__(self):\n        raise ValueError\ndef f():\n    a = A()\n    return 1\n"
    r = trace_program(src, call="f()")
    assert '"a": "<unrepr>"' in r.text and not r.cwm_exact


def test_sets_and_floats():
    r = trace_program("def f():\n    s = {3, 1, 2}\n    z = 0.1 + 0.2\n    w = float('nan')\n    return s\n",
                      call="f()")
    assert '"s": "{1, 2, 3}"' in r.text
    assert '"z": "0.30000000000000004"' in r.text and '"w": "nan"' in r.text


def test_long_values_clipped_visibly_when_limit_set():
    src = "def f():\n    s = 'x' * 500\n    return len(s)\n"
    full = trace_program(src, call="f()")
    assert "'" + "x" * 500 + "'" in full.text and full.cwm_exact and full.clipped_values == 0
    r = trace_program(src, call="f()", max_value_chars=20)
    assert "...<482 more chars>" in r.text
    assert r.clipped_values == 1 and not r.cwm_exact
    assert any("max_value_chars" in n for n in r.non_cwm)
    assert r.return_value == "500"


def test_max_frames_truncates_visibly():
    src = "def f():\n    t = 0\n    for i in range(1000):\n        t += i\n    return t\n"
    r = trace_program(src, call="f()", max_frames=50)
    assert r.truncated and r.truncation_reason == "max_frames"
    assert len(r.frames) == 50 and not r.text.endswith(END_OF_TEXT) and not r.cwm_exact
    p = parse_trace(r.text)
    assert p.truncated and p.well_formed and p.frames == r.frames


def test_never_terminating_program_times_out():
    r = trace_program("def f():\n    n = 0\n    while True:\n        n += 1\n", call="f()",
                      timeout_s=0.3, max_frames=10**9, max_output_chars=10**9)
    assert r.truncated and r.truncation_reason == "timeout" and len(r.frames) > 10
    assert r.return_value is None and not r.text.endswith(END_OF_TEXT)


def test_output_size_limit():
    r = trace_program("def f():\n    n = 0\n    while True:\n        n += 1\n", call="f()",
                      timeout_s=5, max_frames=10**9, max_output_chars=5000)
    assert r.truncated and r.truncation_reason == "max_output_chars" and 4500 < len(r.text) <= 5000


def test_max_depth():
    r = trace_program("def f(n):\n    return f(n + 1)\n", call="f(0)", max_depth=30, max_frames=10**6)
    assert r.truncated and r.truncation_reason == "max_depth"


def test_compile_and_module_errors_are_results_not_exceptions():
    r = trace_program("def f(:\n", call="f()")
    assert r.truncated and r.truncation_reason == "error" and "SyntaxError" in r.error
    r = trace_program("raise RuntimeError('boom')\n", call="f()")
    assert r.truncation_reason == "error" and "boom" in r.error
    r = trace_program("x = 1\n", entry="f")
    assert r.truncation_reason == "error" and "'f'" in r.error


def test_setup_runs_inside_wrapper():
    r = trace_program("def f(xs):\n    return len(xs)\n", call="f(data)", setup="data = [1, 2]")
    assert "    data = [1, 2]\n" in r.context
    assert r.return_value == "2"


def test_ambiguous_token_text_is_flagged():
    r = trace_program("def f():\n    return '<|frame_sep|>'\n", call="f()")
    assert r.ambiguous and not r.cwm_exact


def test_multiline_statement_physical_lines():
    src = "def f():\n    x = [\n        1,\n        2,\n    ]\n    return x\n"
    r = trace_program(src, call="f()")
    assert all(f.source != "" for f in r.frames)
    assert r.return_value == "[1, 2]"


def test_python_version_recorded():
    r = trace_program("def f():\n    return 1\n", call="f()")
    assert r.python_version.startswith("CPython 3.")
    assert r.cwm_exact == (sys.version_info[:2] == (3, 11))


def test_module_level_code_and_prints_are_not_traced():
    r = trace_program("print('hi')\nX = 5\ndef f():\n    return X\n", call="f()")
    assert "print" not in r.text and '"X"' not in r.text


def test_value_rendering_as_placeholder_is_ambiguous():
    src = "class D:\n    def __repr__(self):\n        return '..'\ndef f():\n    d = D()\n    return 1\n"
    r = trace_program(src, call="f()")
    assert r.ambiguous and not r.cwm_exact


def test_generator_entry_is_rejected_clearly():
    r = trace_program("def g():\n    yield 1\n", entry="g")
    assert r.truncation_reason == "error" and "generator" in r.error


def test_class_body_inside_traced_code_is_labelled_non_cwm():
    src = "def f():\n    class K:\n        a = 1\n    return K.a\n"
    r = trace_program(src, call="f()")
    assert r.return_value == "1" and not r.cwm_exact
    assert any("class body" in n for n in r.non_cwm)
    plain = trace_program("def f():\n    return 1\n", call="f()")
    assert plain.non_cwm == [] or sys.version_info[:2] != (3, 11)


def test_module_code_that_never_finishes_times_out_with_alarm():
    r = trace_program("while True:\n    pass\ndef f():\n    return 1\n", call="f()", timeout_s=0.2, use_alarm=True)
    assert r.truncated and r.truncation_reason == "timeout" and "module" in r.error
