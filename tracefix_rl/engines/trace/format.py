"""The CWM execution-trace text format: tokens, frames, parsing, rendering and ``..`` resolution.

A trace is a sequence of frames, each an *event* (call, line, return, exception), the *action*
(the physical source line) and either the local-variable *state* (call/line frames) or a
*value* (return/exception frames)::

    <|call_sep|>LOCALS<|action_sep|>SOURCE\\n<|frame_sep|>
    <|line_sep|>LOCALS<|action_sep|>SOURCE\\n<|frame_sep|>
    <|return_sep|><|action_sep|>SOURCE\\n<|arg_sep|>VALUE<|frame_sep|>
    <|exception_sep|><|action_sep|>SOURCE\\n<|arg_sep|>VALUE<|frame_sep|>

followed by ``<|end_of_text|>``. LOCALS is ``json.dumps`` of a dict from names to *rendered*
values (``repr`` with addresses removed) or the placeholder ``".."`` (unchanged since the
previous frame of the same activation); VALUE is ``json.dumps`` of a rendered value. The full
specification is ``shared/notes/cwm-trace-format.md`` (sections 2-8 and 12).

Frames hold the action *normalised*: without its trailing newline and without the
``START_OF_TRACE`` marker. Rendering adds the newline back, so for every trace the tracer
produces, ``render_frames_to_generation(parse_generated_trace(text)[0]) == text``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ACTION_SEP",
    "ARG_SEP",
    "BEGIN_OF_TEXT",
    "CALL_SEP",
    "DIFF_PLACEHOLDER",
    "END_OF_TEXT",
    "EXCEPTION_SEP",
    "FRAME_SEP",
    "LINE_SEP",
    "RETURN_SEP",
    "SPECIAL_TOKENS",
    "START_MARKER",
    "TRACE_CONTEXT_START",
    "ParsedTrace",
    "TraceEvent",
    "TraceFrame",
    "contains_special_token",
    "normalize_source",
    "parse_generated_trace",
    "parse_locals",
    "parse_trace",
    "render_frame",
    "render_frames_to_generation",
    "render_value",
    "resolve_locals",
]

FRAME_SEP = "<|frame_sep|>"
ACTION_SEP = "<|action_sep|>"
RETURN_SEP = "<|return_sep|>"
CALL_SEP = "<|call_sep|>"
LINE_SEP = "<|line_sep|>"
EXCEPTION_SEP = "<|exception_sep|>"
ARG_SEP = "<|arg_sep|>"
TRACE_CONTEXT_START = "<|trace_context_start|>"
BEGIN_OF_TEXT = "<|begin_of_text|>"
END_OF_TEXT = "<|end_of_text|>"

#: The eight CWM trace tokens with their tokenizer ids (spec section 2).
SPECIAL_TOKENS: dict[str, int] = {
    FRAME_SEP: 128100,
    ACTION_SEP: 128101,
    RETURN_SEP: 128102,
    CALL_SEP: 128103,
    LINE_SEP: 128104,
    EXCEPTION_SEP: 128105,
    ARG_SEP: 128106,
    TRACE_CONTEXT_START: 128107,
}

#: Placeholder for a local whose rendered value equals the one in the previous frame.
DIFF_PLACEHOLDER = ".."

#: The start-of-trace marker appended to the entry's ``def`` line: two spaces, then the comment.
START_MARKER = "  # << START_OF_TRACE"
# Some derived documents (and code copied from them) use a single space; parsers accept it.
_START_MARKER_ONE_SPACE = " # << START_OF_TRACE"

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class TraceEvent(StrEnum):
    """The four frame kinds, one per ``sys.settrace`` event."""

    CALL = "call"
    LINE = "line"
    RETURN = "return"
    EXCEPTION = "exception"

    @property
    def token(self) -> str:
        """The special token that starts a frame of this kind."""
        return _EVENT_TO_TOKEN[self]

    @property
    def has_locals(self) -> bool:
        """True for call and line frames, which carry a state instead of a value."""
        return self in (TraceEvent.CALL, TraceEvent.LINE)


_EVENT_TO_TOKEN: dict[TraceEvent, str] = {
    TraceEvent.CALL: CALL_SEP,
    TraceEvent.LINE: LINE_SEP,
    TraceEvent.RETURN: RETURN_SEP,
    TraceEvent.EXCEPTION: EXCEPTION_SEP,
}
_TOKEN_TO_EVENT: dict[str, TraceEvent] = {v: k for k, v in _EVENT_TO_TOKEN.items()}
_TOKEN_NAMES = tuple(tok[2:-2] for tok in SPECIAL_TOKENS)


@dataclass
class TraceFrame:
    """One trace frame.

    Attributes:
        event: The frame kind.
        source: The action line, normalised (no trailing newline, no START_OF_TRACE marker).
        locals: For call/line frames, the state as ``{name: rendered value or ".."}`` in order;
            ``None`` when the frame is not a call/line frame or its LOCALS did not parse.
        arg: For return/exception frames, the VALUE unwrapped from its JSON string (for
            example ``"3"`` or ``"'abc'"``); the raw text when it was not a JSON string.
        malformed: True when LOCALS or VALUE did not parse as the grammar requires.
        raw_locals: The unparsed LOCALS text of a malformed call/line frame, kept so that
            rendering reproduces it.
    """

    event: TraceEvent
    source: str
    locals: dict[str, str] | None = None
    arg: str | None = None
    malformed: bool = False
    raw_locals: str | None = None

    @property
    def has_locals(self) -> bool:
        """True for call and line frames."""
        return self.event.has_locals


@dataclass
class ParsedTrace:
    """Everything :func:`parse_trace` learns from a generation.

    Attributes:
        frames: The frames, malformed ones included (so other metrics can still use them).
        well_formed: The Valid Trace Format verdict (spec section 12).
        truncated: True when the text had no ``<|end_of_text|>``; reported separately and not
            part of ``well_formed``.
        errors: Human-readable reasons for ``well_formed`` being false, in order.
    """

    frames: list[TraceFrame]
    well_formed: bool
    truncated: bool
    errors: list[str]


def render_value(value: object) -> str:
    """Render a Python value as CWM does: ``repr`` with every ``" at 0x<hex>"`` removed.

    A ``repr`` that raises renders as ``"<unrepr>"`` (a TraceFix-RL convention, not CWM's).

    >>> render_value([1, 'a'])
    "[1, 'a']"
    >>> render_value(object())
    '<object object>'
    """
    try:
        text = repr(value)
    except Exception:  # a broken user __repr__ must not break the trace
        return "<unrepr>"
    if " at 0x" in text:
        text = _ADDRESS.sub("", text)
    return text


def contains_special_token(text: str) -> bool:
    """True when ``text`` contains the literal text of one of the eight trace tokens.

    >>> contains_special_token("x = '<|frame_sep|>'")
    True
    >>> contains_special_token("a <| b")
    False
    """
    if "<|" not in text:
        return False
    return any(f"<|{name}|>" in text for name in _TOKEN_NAMES)


def normalize_source(source: str) -> str:
    """Normalise an action line for comparison: drop one trailing newline, then the marker.

    The marker is removed as a *suffix* (both the two-space and the one-space form), never as
    a character set, so ``"    return CAT"`` keeps its ``CAT``.

    >>> normalize_source("def f(c):  # << START_OF_TRACE\\n")
    'def f(c):'
    >>> normalize_source("def f(c): # << START_OF_TRACE")
    'def f(c):'
    >>> normalize_source("    return CAT\\n")
    '    return CAT'
    """
    if source.endswith("\n"):
        source = source[:-1]
    if source.endswith(START_MARKER):
        return source.removesuffix(START_MARKER)
    return source.removesuffix(_START_MARKER_ONE_SPACE)


def parse_locals(locals_str: str) -> dict[str, str] | None:
    """Parse a LOCALS payload; ``None`` unless it is a JSON object whose values are strings.

    An empty (or all-whitespace) payload is the empty state.

    >>> parse_locals('{"n": "3", "i": ".."}')
    {'n': '3', 'i': '..'}
    >>> parse_locals("")
    {}
    >>> parse_locals('{"n": 3}') is None
    True
    """
    text = locals_str.strip()
    if not text:
        return {}
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        return None
    return obj


def _parse_value(text: str) -> tuple[str, bool]:
    """Unwrap a VALUE once; returns ``(value, ok)`` with the raw text when it is not a JSON string."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return text, False
    if isinstance(obj, str):
        return obj, True
    return text, False


def _first_event_token(text: str) -> int:
    """Index of the earliest event token in ``text``, or -1."""
    best = -1
    for tok in _TOKEN_TO_EVENT:
        i = text.find(tok)
        if i != -1 and (best == -1 or i < best):
            best = i
    return best


def _parse_segment(seg: str, index: int, errors: list[str]) -> TraceFrame | None:
    event = None
    for tok, evt in _TOKEN_TO_EVENT.items():
        if seg.startswith(tok):
            event = evt
            seg = seg[len(tok):]
            break
    if event is None:
        errors.append(f"frame {index}: does not start with an event token")
        return None
    if _first_event_token(seg) != -1:
        errors.append(f"frame {index}: more than one event token")
    head, sep, rest = seg.partition(ACTION_SEP)
    if not sep:
        errors.append(f"frame {index}: no {ACTION_SEP}")
        return TraceFrame(event=event, source="", malformed=True)
    if event.has_locals:
        parsed = parse_locals(head)
        if parsed is None:
            return TraceFrame(event=event, source=normalize_source(rest), malformed=True, raw_locals=head)
        return TraceFrame(event=event, source=normalize_source(rest), locals=parsed)
    if head.strip():
        errors.append(f"frame {index}: text between the {event.value} token and {ACTION_SEP}")
    source, sep, value = rest.partition(ARG_SEP)
    if not sep:
        errors.append(f"frame {index}: {event.value} frame without {ARG_SEP}")
        return TraceFrame(event=event, source=normalize_source(source), malformed=True)
    arg, ok = _parse_value(value)
    return TraceFrame(event=event, source=normalize_source(source), arg=arg, malformed=not ok)


def parse_trace(generation: str) -> ParsedTrace:
    """Parse a trace generation into frames, with the well-formedness verdict and its reasons.

    Follows spec section 12: cut at the first ``<|end_of_text|>`` (its absence sets
    ``truncated``), split on ``<|frame_sep|>``, require an event token at the start of every
    segment, ``<|action_sep|>`` in every frame and ``<|arg_sep|>`` in return/exception frames,
    and nothing but whitespace after the last separator. Malformed LOCALS or VALUE keep the
    frame (``malformed=True``) without breaking ``well_formed``; that is measured by Valid JSON.

    >>> p = parse_trace('<|call_sep|>{}<|action_sep|>def main():\\n<|frame_sep|><|end_of_text|>')
    >>> (len(p.frames), p.well_formed, p.truncated)
    (1, True, False)
    """
    text, eos, _ = generation.partition(END_OF_TEXT)
    errors: list[str] = []
    segments = text.split(FRAME_SEP)
    trailing = segments.pop()
    if trailing.strip():
        errors.append("text after the last frame separator")
    frames: list[TraceFrame] = []
    for i, seg in enumerate(segments):
        frame = _parse_segment(seg, i, errors)
        if frame is not None:
            frames.append(frame)
    if not frames:
        errors.append("no frames")
    return ParsedTrace(frames=frames, well_formed=not errors, truncated=not eos, errors=errors)


def parse_generated_trace(generation: str) -> tuple[list[TraceFrame], bool]:
    """Parse a generation into ``(frames, well_formed)``; see :func:`parse_trace` for the rules.

    >>> frames, ok = parse_generated_trace('<|line_sep|>{"x": ".."}<|action_sep|>    y = x\\n<|frame_sep|>')
    >>> (frames[0].locals, frames[0].source, ok)
    ({'x': '..'}, '    y = x', True)
    """
    parsed = parse_trace(generation)
    return parsed.frames, parsed.well_formed


def render_frame(frame: TraceFrame) -> str:
    """Render one frame to its text form, ending with ``<|frame_sep|>``.

    >>> render_frame(TraceFrame(TraceEvent.RETURN, "    return n", arg="-1"))
    '<|return_sep|><|action_sep|>    return n\\n<|arg_sep|>"-1"<|frame_sep|>'
    """
    if frame.event.has_locals:
        if frame.locals is not None:
            state = json.dumps(frame.locals)
        else:
            state = frame.raw_locals if frame.raw_locals is not None else ""
        return f"{frame.event.token}{state}{ACTION_SEP}{frame.source}\n{FRAME_SEP}"
    value = json.dumps(frame.arg if frame.arg is not None else "")
    return f"{frame.event.token}{ACTION_SEP}{frame.source}\n{ARG_SEP}{value}{FRAME_SEP}"


def render_frames_to_generation(frames: Sequence[TraceFrame], *, end: bool = True) -> str:
    """Render frames to a generation string, followed by ``<|end_of_text|>`` when ``end``.

    Inverse of :func:`parse_generated_trace`: parsing the result gives back equal frames, and
    rendering the frames of a tracer-produced trace gives back the identical string.
    """
    out = "".join(render_frame(f) for f in frames)
    return out + END_OF_TEXT if end else out


def resolve_locals(frames: Sequence[TraceFrame]) -> list[dict[str, str | None] | None]:
    """Expand every ``..`` into the full value it stands for, frame by frame.

    For each call/line frame the result is its state with placeholders replaced; return and
    exception frames, and frames whose LOCALS did not parse, give ``None``. A ``..`` is resolved
    by walking back over earlier frames, skipping exception frames, to the first one that shows
    the key with a real value. The walk fails (the value becomes ``None``) at a return frame, at
    a malformed frame, or at a call frame without the key; a ``..`` inside a call frame (which
    must render in full) is unresolvable too. Ground-truth traces never produce ``None``.

    >>> fs, _ = parse_generated_trace(
    ...     '<|call_sep|>{"n": "3"}<|action_sep|>def f(n):\\n<|frame_sep|>'
    ...     '<|line_sep|>{"n": "..", "t": "0"}<|action_sep|>    t = 0\\n<|frame_sep|>')
    >>> resolve_locals(fs)
    [{'n': '3'}, {'n': '3', 't': '0'}]
    """
    out: list[dict[str, str | None] | None] = []
    carry: dict[str, str | None] = {}
    for frame in frames:
        if frame.event is TraceEvent.EXCEPTION:
            out.append(None)
            continue
        if frame.event is TraceEvent.RETURN or frame.locals is None:
            carry = {}
            out.append(None)
            continue
        if frame.event is TraceEvent.CALL:
            resolved = {k: (None if v == DIFF_PLACEHOLDER else v) for k, v in frame.locals.items()}
            carry = dict(resolved)
        else:
            resolved = {k: (carry.get(k) if v == DIFF_PLACEHOLDER else v) for k, v in frame.locals.items()}
            carry.update(resolved)
        out.append(resolved)
    return out
