"""A bounded, readable rendering of a trace for people and for an agent's observation.

One line per frame, indented by call depth::

    -> f(n=3)  L1
      L2       total = 0
      L3       for i in range(n):          | total=0
      L4           total += i              | i=0
    <- return 3  L5

Call lines show the arguments (every local at entry). Line frames show the state *before*
the line runs, listing only the locals whose value changed since the previous frame of the
same activation; the first line frame after a callee returns lists every local. Long values
are clipped with a visible ``...`` and long traces keep their head and tail with a
``... N more frames ...`` note, so the output is bounded by ``max_frames`` lines and
``max_chars`` characters however long the trace is. This is not the CWM format: use
``TraceResult.text`` for that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tracefix_rl.engines.trace.format import DIFF_PLACEHOLDER, TraceEvent, TraceFrame, resolve_locals
from tracefix_rl.engines.trace.tracer import TraceResult

__all__ = ["render_observation", "render_pretty"]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 1)] + "..."


_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)")


def _frame_lines(frames: Sequence[TraceFrame], linenos: Sequence[int], value_chars: int,
                 source_width: int) -> list[str]:
    resolved = resolve_locals(frames)
    out: list[str] = []
    depth = 0
    for k, frame in enumerate(frames):
        lineno = f"L{linenos[k]}" if k < len(linenos) else "L?"
        indent = "  " * depth
        if frame.event is TraceEvent.CALL:
            state = resolved[k] or {}
            args = ", ".join(f"{n}={_clip(v or '?', value_chars)}" for n, v in state.items())
            m = _DEF.match(frame.source)
            # lambdas, comprehensions and genexprs: their source line is the caller's line
            what = m.group(1) if m else "<expr>"
            out.append(f"{indent}-> {what}({args})  {lineno}")
            depth += 1
        elif frame.event is TraceEvent.LINE:
            shown = frame.locals or {}
            state = resolved[k] or {}
            parts = [f"{n}={_clip(state.get(n) or '?', value_chars)}"
                     for n, v in shown.items() if v != DIFF_PLACEHOLDER]
            code = f"{indent}{lineno:<5}{_clip(frame.source.rstrip(), source_width)}"
            out.append(f"{code:<{source_width + 5 + len(indent)}} | {' '.join(parts)}" if parts else code)
        elif frame.event is TraceEvent.RETURN:
            depth = max(depth - 1, 0)
            out.append(f"{'  ' * depth}<- return {_clip(frame.arg or '', value_chars)}  {lineno}")
        else:
            out.append(f"{indent}!! exception {_clip(frame.arg or '', value_chars)}  {lineno}")
    return out


def render_pretty(
    trace: TraceResult,
    *,
    max_frames: int = 120,
    max_chars: int = 6000,
    max_value_chars: int = 60,
    source_width: int = 40,
    header: bool = True,
) -> str:
    """Render ``trace`` as bounded text, one line per frame.

    Args:
        trace: A result from :func:`~tracefix_rl.engines.trace.trace_program` or ``trace_in_sandbox``.
        max_frames: At most this many frame lines; beyond it the first two thirds and the last
            third are kept around a ``... N more frames ...`` line.
        max_chars: Hard cap on the whole output; the cut is marked.
        max_value_chars: Values longer than this are clipped with ``...``.
        source_width: Source column width.
        header: Start with a summary line (frame count, truncation, interpreter, exceptions).

    Returns:
        The rendering; never longer than ``max_chars`` characters.
    """
    lines = _frame_lines(trace.frames, trace.linenos, max_value_chars, source_width)
    total = len(lines)
    if total > max_frames:
        head = max(1, (2 * max_frames) // 3)
        tail = max(max_frames - head, 0)
        lines = lines[:head] + [f"... {total - head - tail} more frames ..."] + (lines[-tail:] if tail else [])
    out: list[str] = []
    if header:
        facts = [f"{total} frames", trace.python_version]
        if trace.truncated:
            facts.append(f"TRUNCATED ({trace.truncation_reason})")
        if trace.exception_rendering:
            facts.append("has exception frames")
        out.append(f"trace of {trace.call if trace.call is not None else trace.entry + '()'}: " + ", ".join(facts))
        if trace.error:
            out.append(f"error: {trace.error}")
    out.extend(lines)
    if trace.uncaught_exception:
        u = trace.uncaught_exception
        out.append(f"uncaught {u['type']}: {_clip(u['message'], 200)}")
    elif trace.return_value is not None and not trace.truncated:
        out.append(f"result: {_clip(trace.return_value, 200)}")
    if trace.truncated and trace.truncation_reason != "error":
        out.append(f"[trace stopped early: {trace.truncation_reason}]")
    text = "\n".join(out)
    if len(text) > max_chars:
        note = f"\n... output cut at {max_chars} characters ..."
        text = text[: max(max_chars - len(note), 0)] + note
    return text


def render_observation(
    trace: TraceResult,
    *,
    test_name: str | None = None,
    raw: bool = False,
    max_frames: int = 120,
    max_chars: int = 6000,
    max_raw_chars: int = 20000,
) -> str:
    """The text of a TRACE observation: the bounded rendering, plus the raw CWM string on request.

    Args:
        trace: The traced test.
        test_name: Shown in the first line when given.
        raw: Append the CWM generation string (``trace.text``), clipped to ``max_raw_chars``
            with a visible note.
        max_frames: Passed to :func:`render_pretty`.
        max_chars: Passed to :func:`render_pretty`.
        max_raw_chars: Cap on the raw section.

    Returns:
        At most ``max_chars + max_raw_chars`` plus a few hundred characters of headers.
    """
    parts = []
    if test_name:
        parts.append(f"TRACE {test_name}")
    parts.append(render_pretty(trace, max_frames=max_frames, max_chars=max_chars))
    if raw:
        text = trace.text
        if len(text) > max_raw_chars:
            text = text[:max_raw_chars] + f"\n... raw trace cut: {len(trace.text) - max_raw_chars} more characters ..."
        label = "CWM-exact" if trace.cwm_exact else "not CWM-exact: " + "; ".join(trace.non_cwm)
        parts.append(f"--- raw CWM trace ({trace.python_version}; {label}) ---\n{text}")
    return "\n".join(parts)
