"""Format module: parsing, rendering, normalisation, locals, `..` resolution."""

from __future__ import annotations

import json

from _examples import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from tracefix_rl.engines.trace.format import (
    END_OF_TEXT,
    FRAME_SEP,
    START_MARKER,
    TraceEvent,
    TraceFrame,
    contains_special_token,
    normalize_source,
    parse_generated_trace,
    parse_locals,
    parse_trace,
    render_frames_to_generation,
    render_value,
    resolve_locals,
)


def test_marker_is_two_spaces():
    assert START_MARKER == "  # << START_OF_TRACE"


def test_normalize_removes_marker_as_suffix_both_forms():
    assert normalize_source("def f(c):  # << START_OF_TRACE\n") == "def f(c):"
    assert normalize_source("def f(c): # << START_OF_TRACE\n") == "def f(c):"
    assert normalize_source("def f(c):  # << START_OF_TRACE") == "def f(c):"


def test_normalize_does_not_strip_characters_of_the_marker():
    # rstrip(marker) would eat these line endings
    assert normalize_source("    return CAT\n") == "    return CAT"
    assert normalize_source("    y = A\n") == "    y = A"
    assert normalize_source("    x = 'S T'  \n") == "    x = 'S T'  "
    assert normalize_source("    return x\n\n") == "    return x\n"


def test_parse_locals():
    assert parse_locals('{"a": "1", "b": ".."}') == {"a": "1", "b": ".."}
    assert parse_locals("  ") == {}
    assert parse_locals("{}") == {}
    assert parse_locals('{"a": 1}') is None
    assert parse_locals("[1]") is None
    assert parse_locals("{bad") is None


def test_render_value_strips_addresses():
    class A:
        pass

    assert render_value(A()).endswith("A object>")
    assert " at 0x" not in render_value(A())
    assert render_value(iter([1])) == "<list_iterator object>"
    assert render_value(iter("ab")) == "<str_ascii_iterator object>"

    class Bad:
        def __repr__(self):
            raise RuntimeError

    assert render_value(Bad()) == "<unrepr>"


def test_special_token_detection():
    assert contains_special_token("<|arg_sep|>")
    assert not contains_special_token("<|nope|>")


def test_parse_well_formed_example_and_round_trip():
    for ex in EXAMPLES.values():
        frames, ok = parse_generated_trace(ex["trace"])
        assert ok
        assert render_frames_to_generation(frames) == ex["trace"]


def test_parse_flags_missing_eos_as_truncated_but_well_formed():
    text = EXAMPLES[1]["trace"].removesuffix(END_OF_TEXT)
    p = parse_trace(text)
    assert p.truncated and p.well_formed


def test_parse_malformed_cases():
    ok_frame = '<|line_sep|>{}<|action_sep|>    x = 1\n<|frame_sep|>'
    assert not parse_trace("").well_formed
    # garbage after the last separator
    assert not parse_trace(ok_frame + "junk").well_formed
    # segment without event token is dropped and breaks well-formedness
    p = parse_trace("hello" + FRAME_SEP + ok_frame)
    assert not p.well_formed and len(p.frames) == 1
    # return without arg_sep
    p = parse_trace('<|return_sep|><|action_sep|>    return 1\n<|frame_sep|>')
    assert not p.well_formed and p.frames[0].malformed
    # line without action_sep
    assert not parse_trace('<|line_sep|>{}    x\n<|frame_sep|>').well_formed
    # bad JSON keeps the frame and well-formedness, but locals are None
    p = parse_trace('<|line_sep|>{"x": 1<|action_sep|>    x\n<|frame_sep|><|end_of_text|>')
    assert p.well_formed and p.frames[0].locals is None and p.frames[0].malformed
    # bad JSON locals still render back verbatim
    assert render_frames_to_generation(p.frames) == '<|line_sep|>{"x": 1<|action_sep|>    x\n<|frame_sep|><|end_of_text|>'
    # two event tokens in one frame
    assert not parse_trace('<|line_sep|><|call_sep|>{}<|action_sep|>    x\n<|frame_sep|>').well_formed


def test_parse_value_unwrapped_once():
    frames, ok = parse_generated_trace('<|return_sep|><|action_sep|>    return s\n<|arg_sep|>"\'a\\"b\'"<|frame_sep|>')
    assert ok and frames[0].arg == "'a\"b'"
    frames, _ = parse_generated_trace('<|return_sep|><|action_sep|>    return 3\n<|arg_sep|>3<|frame_sep|>')
    assert frames[0].arg == "3" and frames[0].malformed


def test_parse_strips_marker_from_call_action():
    frames, ok = parse_generated_trace(f"<|call_sep|>{{}}<|action_sep|>def main():{START_MARKER}\n{FRAME_SEP}")
    assert ok and frames[0].source == "def main():"


def test_resolve_ground_truth_examples_have_no_unresolvable_values():
    for ex in EXAMPLES.values():
        frames, _ = parse_generated_trace(ex["trace"])
        for f, r in zip(frames, resolve_locals(frames), strict=True):
            if f.has_locals:
                assert r is not None and None not in r.values() and ".." not in r.values()
            else:
                assert r is None


def test_resolve_example_1_values():
    frames, _ = parse_generated_trace(EXAMPLES[1]["trace"])
    resolved = resolve_locals(frames)
    assert resolved[4] == {"n": "3", "total": "0", "i": "0"}
    assert resolved[10] == {"n": "3", "total": "3", "i": "2"}


def test_resolve_skips_exception_frames_and_stops_at_returns():
    frames, _ = parse_generated_trace(EXAMPLES[3]["trace"])
    resolved = resolve_locals(frames)
    # line after the exception frame resolves through it
    assert resolved[5] == {"s": "'x'"}
    text = ('<|call_sep|>{"a": "1"}<|action_sep|>def f(a):\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    g()\n<|arg_sep|>"None"<|frame_sep|>'
            '<|line_sep|>{"a": ".."}<|action_sep|>    x\n<|frame_sep|>'
            '<|call_sep|>{"b": ".."}<|action_sep|>def g(b):\n<|frame_sep|>'
            '<|line_sep|>{"a": ".."}<|action_sep|>    y\n<|frame_sep|>')
    frames, _ = parse_generated_trace(text)
    assert resolve_locals(frames)[2:] == [{"a": None}, {"b": None}, {"a": None}]


_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=6)
_source = _values.filter(lambda s: "\n" not in s and "\r" not in s and not contains_special_token(s)
                         and not s.endswith(" # << START_OF_TRACE"))


@st.composite
def _frames(draw):
    out = []
    for _ in range(draw(st.integers(1, 8))):
        event = draw(st.sampled_from(list(TraceEvent)))
        src = draw(_source)
        if event.has_locals:
            locs = draw(st.dictionaries(_names, _values.filter(lambda v: not contains_special_token(v)), max_size=4))
            out.append(TraceFrame(event, src, locals=locs))
        else:
            out.append(TraceFrame(event, src, arg=draw(_values.filter(lambda v: not contains_special_token(v)))))
    return out


@settings(max_examples=150, deadline=None)
@given(_frames())
def test_round_trip_property(frames):
    text = render_frames_to_generation(frames)
    parsed, ok = parse_generated_trace(text)
    assert ok
    assert parsed == frames
    assert render_frames_to_generation(parsed) == text


def test_locals_are_json_with_default_separators():
    frames = [TraceFrame(TraceEvent.LINE, "    x", locals={"é": "'ü'"})]
    text = render_frames_to_generation(frames)
    assert json.dumps({"é": "'ü'"}) in text and "\\u00e9" in text
