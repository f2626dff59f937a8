"""The in-process reference tracer: run a program under ``sys.settrace`` and emit a CWM trace.

:func:`trace_program` executes the program's module code untraced, then traces exactly one
activation of the entry function (a named zero-argument function, or the generated
``main`` wrapper around a call expression) and every callee whose code comes from the traced
source: functions, lambdas, comprehensions, generator expressions and generators, including
ones called back from C builtins. Library and builtin frames are never traced.

This runs the program in the *current* process. Agent code must be traced through
:func:`tracefix_rl.engines.trace.trace_in_sandbox`, which calls this function inside the sandbox child.

Version: CWM-exact output is defined for CPython 3.11 (comprehension frames,
``str_ascii_iterator``, 3.11 line events). On another interpreter the trace is produced the
same way but ``cwm_exact`` is false and ``python_version`` says which interpreter made it.
Exception frames follow TraceFix-RL's documented, unverified choices (spec section 9), and
every trace containing one says so in ``exception_rendering``.
"""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from tracefix_rl.core.errors import TraceError
from tracefix_rl.engines.trace.format import (
    ACTION_SEP,
    ARG_SEP,
    BEGIN_OF_TEXT,
    CALL_SEP,
    DIFF_PLACEHOLDER,
    END_OF_TEXT,
    EXCEPTION_SEP,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
    START_MARKER,
    TRACE_CONTEXT_START,
    TraceEvent,
    TraceFrame,
    contains_special_token,
    parse_trace,
    render_frames_to_generation,
    render_value,
)

__all__ = ["TRACE_FILENAME", "TraceResult", "build_context", "trace_program"]

#: Private filename the traced source is compiled under; only frames from it are traced.
TRACE_FILENAME = "<tracefix-trace>"

#: Reasons a trace can stop early (``TraceResult.truncation_reason``).
TRUNCATION_REASONS = (
    "max_frames", "timeout", "max_depth", "max_output_chars", "tracing_interrupted", "error",
    "memory", "exited", "crashed", "output_limit",
)

_CWM_PYTHON = (3, 11)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_VERSION = f"CPython {sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}" if (
    sys.implementation.name == "cpython") else f"{sys.implementation.name} {sys.version.split()[0]}"


class _TraceAbort(BaseException):
    """Raised into the traced program to stop it once a limit is hit (not an ``Exception``)."""


@dataclass
class TraceResult:
    """A finished (or deliberately stopped) trace and everything needed to interpret it.

    Attributes:
        text: The generation string starting with the entry's call frame (in call mode that is
            the ``main`` wrapper's frame). Ends with ``<|end_of_text|>`` unless truncated.
        frames: The frames of ``text``, in order.
        linenos: The line number of each frame's action in ``context`` (not part of CWM).
        truncated: True when a limit stopped tracing; ``text`` then has no EOS.
        truncation_reason: One of :data:`TRUNCATION_REASONS`, or ``None``.
        python_version: The interpreter that produced the trace, e.g. ``"CPython 3.11.7"``.
        cwm_exact: True only for a complete trace made on CPython 3.11 with no non-CWM option
            in effect (see ``non_cwm``).
        non_cwm: Why ``cwm_exact`` is false (empty when it is true).
        exception_rendering: ``"unverified"`` when the trace has an exception frame, else None.
        uncaught_exception: ``{"type", "message", "repr"}`` when an exception escaped the entry.
        ambiguous: True when the source or a value contains a special-token string.
        return_value: The rendered return value of the entry, when it returned normally.
        context: The source as shown to the model (entry ``def`` line carries the marker).
        seeded_frames: How many leading frames of ``text`` belong in the prompt (1 in call mode:
            the wrapper's call frame; 0 in entry mode).
        entry: The traced function's name.
        call: The call expression, in call mode.
        clipped_values: How many values ``max_value_chars`` shortened.
        hash_seed: ``PYTHONHASHSEED`` of the tracing process (set and str reprs depend on it).
        error: For ``truncation_reason == "error"``: why tracing could not start.
        stdout: What the program printed (capped; never part of the trace).
    """

    text: str
    frames: list[TraceFrame]
    linenos: list[int] = field(default_factory=list)
    truncated: bool = False
    truncation_reason: str | None = None
    python_version: str = _VERSION
    cwm_exact: bool = False
    non_cwm: list[str] = field(default_factory=list)
    exception_rendering: str | None = None
    uncaught_exception: dict[str, str] | None = None
    ambiguous: bool = False
    return_value: str | None = None
    context: str = ""
    seeded_frames: int = 0
    entry: str = ""
    call: str | None = None
    clipped_values: int = 0
    hash_seed: str | None = None
    error: str | None = None
    stdout: str = ""

    @property
    def seed(self) -> str:
        """The text of the frames that belong in the prompt (the wrapper's call frame)."""
        return render_frames_to_generation(self.frames[:self.seeded_frames], end=False)

    @property
    def completion(self) -> str:
        """What a model continues with after :attr:`prompt`: ``text`` minus the seeded frames."""
        return self.text[len(self.seed):]

    @property
    def prompt(self) -> str:
        """The CWM prompt for this trace: BOS, context start, context, frame separator, seed."""
        return f"{BEGIN_OF_TEXT}{TRACE_CONTEXT_START}{self.context}{FRAME_SEP}{self.seed}"

    def truncated_to(self, n_frames: int, reason: str) -> TraceResult:
        """A copy keeping only the first ``n_frames`` frames, marked truncated with ``reason``."""
        n = max(0, min(n_frames, len(self.frames)))
        if n == len(self.frames) and self.truncated:
            return self
        data = self.to_dict()
        data.update(text=render_frames_to_generation(self.frames[:n], end=False), linenos=self.linenos[:n], truncated=True,
                    truncation_reason=reason, cwm_exact=False, return_value=None,
                    non_cwm=[*self.non_cwm, f"truncated ({reason})"])
        return TraceResult(frames=self.frames[:n], **{k: v for k, v in data.items() if k != "frames"})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; ``frames`` are omitted because they are re-parsed from ``text``."""
        return {
            "text": self.text, "linenos": self.linenos, "truncated": self.truncated,
            "truncation_reason": self.truncation_reason, "python_version": self.python_version,
            "cwm_exact": self.cwm_exact, "non_cwm": self.non_cwm,
            "exception_rendering": self.exception_rendering,
            "uncaught_exception": self.uncaught_exception, "ambiguous": self.ambiguous,
            "return_value": self.return_value, "context": self.context,
            "seeded_frames": self.seeded_frames, "entry": self.entry, "call": self.call,
            "clipped_values": self.clipped_values, "hash_seed": self.hash_seed,
            "error": self.error, "stdout": self.stdout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceResult:
        """Rebuild a result from :meth:`to_dict` output (frames are parsed from the text)."""
        kwargs = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "frames"}
        return cls(frames=parse_trace(data.get("text", "")).frames, **kwargs)


def _wrapper_name(source: str) -> str:
    name = "main"
    while re.search(rf"\b{name}\b", source):
        name = "_" + name
    return name


def build_context(source: str, *, entry: str | None = None, call: str | None = None,
                  setup: str = "") -> tuple[str, str]:
    """Return ``(context, entry_name)``: the source as traced and shown, and the function to trace.

    In call mode the program gets the standard marked wrapper
    ``def main():  # << START_OF_TRACE`` whose body runs ``setup`` and returns ``call`` (the
    wrapper is renamed ``_main`` if the program already uses the name ``main``). In entry mode
    the marker is appended to the entry's ``def`` line. Raises :class:`TraceError` unless
    exactly one of ``entry`` and ``call`` is given.

    >>> build_context("def f(n):\\n    return n\\n", call="f(3)")[0]
    'def f(n):\\n    return n\\ndef main():  # << START_OF_TRACE\\n    return f(3)\\n'
    """
    if (entry is None) == (call is None):
        raise TraceError("give exactly one of entry= and call=")
    if source and not source.endswith("\n"):
        source += "\n"
    if call is not None:
        name = _wrapper_name(source + "\n" + setup + "\n" + call)
        body = "".join(f"    {line}\n" for line in setup.strip("\n").splitlines() if line.strip())
        return f"{source}def {name}():{START_MARKER}\n{body}    return {call}\n", name
    assert entry is not None
    lines = _LINE_BREAK.split(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, entry
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry:
            i = node.lineno - 1
            if not lines[i].endswith(START_MARKER):
                lines[i] += START_MARKER
            return "\n".join(lines), entry
    return source, entry


class _Tracer:
    """State of one tracing run; :meth:`global_trace` is installed with ``sys.settrace``."""

    def __init__(self, lines: list[str], entry_code: Any, *, max_frames: int,
                 max_value_chars: int | None, deadline: float, max_depth: int,
                 max_output_chars: int) -> None:
        self.lines = lines
        self.entry_code = entry_code
        self.max_frames = max_frames
        self.max_value_chars = max_value_chars
        self.deadline = deadline
        self.max_depth = max_depth
        self.max_output_chars = max_output_chars
        self.started = False
        self.finished = False
        self.root: FrameType | None = None
        self.prev_frame: FrameType | None = None
        self.prev_rendered: dict[str, str] = {}
        self.parts: list[str] = []
        self.frames: list[TraceFrame] = []
        self.linenos: list[int] = []
        self.chars = 0
        self.depth = 0
        self.truncation_reason: str | None = None
        self.ambiguous = False
        self.clipped = 0
        self.unrepr = False
        self.features: set[str] = set()
        self.return_value: str | None = None

    def render(self, value: object) -> str:
        text = render_value(value)
        if text == "<unrepr>":
            self.unrepr = True
        if self.max_value_chars is not None and len(text) > self.max_value_chars:
            extra = len(text) - self.max_value_chars
            text = f"{text[:self.max_value_chars]}...<{extra} more chars>"
            self.clipped += 1
        if text == DIFF_PLACEHOLDER or ("<|" in text and contains_special_token(text)):
            # a value that reads as '..' or as a token cannot be told apart in the text form
            self.ambiguous = True
        return text

    def source_line(self, lineno: int) -> str:
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return line.removesuffix(START_MARKER)

    def stop(self, reason: str) -> None:
        self.truncation_reason = reason
        self.finished = True
        sys.settrace(None)
        raise _TraceAbort(reason)

    def emit(self, frame: TraceFrame, text: str, lineno: int) -> None:
        if self.chars + len(text) > self.max_output_chars:
            self.stop("max_output_chars")
        # frames, linenos and parts must stay the same length even if a signal interrupts here
        self.frames.append(frame)
        self.linenos.append(lineno)
        self.parts.append(text)
        self.chars += len(text)

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self.finished or frame.f_code.co_filename != TRACE_FILENAME:
            return None
        if not self.started:
            if event != "call" or frame.f_code is not self.entry_code:
                return None
            self.started = True
            self.root = frame
        return self.local_trace(frame, event, arg)

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self.finished:
            return None
        if len(self.frames) >= self.max_frames:
            self.stop("max_frames")
        if time.monotonic() > self.deadline:
            self.stop("timeout")
        lineno = frame.f_lineno
        src = self.source_line(lineno)
        if event == "call" or event == "line":
            if event == "call":
                self.depth += 1
                if self.depth > self.max_depth:
                    self.stop("max_depth")
                flags = frame.f_code.co_flags
                if not flags & inspect.CO_OPTIMIZED:
                    self.features.add("a class body was traced (no CWM evidence)")
                elif flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE):
                    self.features.add("async code was traced (no CWM evidence)")
            render = self.render
            cur = {name: render(value) for name, value in frame.f_locals.items()}
            if event == "call" or self.prev_frame is not frame:
                shown = cur
            else:
                prev = self.prev_rendered
                shown = {k: (DIFF_PLACEHOLDER if prev.get(k) == v else v) for k, v in cur.items()}
            self.prev_frame, self.prev_rendered = frame, cur
            token = CALL_SEP if event == "call" else LINE_SEP
            kind = TraceEvent.CALL if event == "call" else TraceEvent.LINE
            self.emit(TraceFrame(kind, src, locals=shown),
                      f"{token}{json.dumps(shown)}{ACTION_SEP}{src}\n{FRAME_SEP}", lineno)
        elif event == "return":
            value = self.render(arg)
            self.depth -= 1
            self.prev_frame, self.prev_rendered = None, {}
            self.emit(TraceFrame(TraceEvent.RETURN, src, arg=value),
                      f"{RETURN_SEP}{ACTION_SEP}{src}\n{ARG_SEP}{json.dumps(value)}{FRAME_SEP}", lineno)
            if frame is self.root:
                self.return_value = value
                self.parts.append(END_OF_TEXT)
                self.finished = True
                sys.settrace(None)
                return None
        elif event == "exception":
            # [U] VALUE is the rendered exception instance; the diff base is kept (spec 8.4)
            value = self.render(arg[1])
            self.emit(TraceFrame(TraceEvent.EXCEPTION, src, arg=value),
                      f"{EXCEPTION_SEP}{ACTION_SEP}{src}\n{ARG_SEP}{json.dumps(value)}{FRAME_SEP}", lineno)
        return self.local_trace


def _abort_module(signum: int, frame: Any) -> None:
    raise _TraceAbort("timeout")


def _error_result(message: str, context: str, entry: str, call: str | None) -> TraceResult:
    return TraceResult(
        text="", frames=[], truncated=True, truncation_reason="error", error=message,
        context=context, entry=entry, call=call, seeded_frames=1 if call is not None else 0,
        non_cwm=["error"], hash_seed=os.environ.get("PYTHONHASHSEED"),
    )


def trace_program(
    source: str,
    *,
    entry: str | None = None,
    call: str | None = None,
    setup: str = "",
    max_frames: int = 2000,
    max_value_chars: int | None = None,
    timeout_s: float = 5.0,
    max_depth: int = 200,
    max_output_chars: int = 2_000_000,
    use_alarm: bool = False,
    hard_stop: Callable[[TraceResult], None] | None = None,
    namespace: dict[str, Any] | None = None,
) -> TraceResult:
    """Trace one activation of the entry in *this* process and return the CWM trace.

    Args:
        source: The program's Python source.
        entry: Name of a module-level zero-argument function to trace (official layout).
        call: A call expression such as ``"f(3, 'ab')"``, traced through the marked ``main``
            wrapper (main-wrapper layout). Exactly one of ``entry`` and ``call`` is required.
        setup: Statements run inside the wrapper before ``call`` (they produce frames).
        max_frames: Stop after this many frames (reason ``"max_frames"``).
        max_value_chars: Clip rendered values longer than this with a visible
            ``...<N more chars>`` suffix. Off (``None``) in CWM mode; setting it makes the trace
            non-CWM only when a value was actually clipped.
        timeout_s: Wall-clock budget for the traced call (reason ``"timeout"``).
        max_depth: Maximum nesting of traced activations (reason ``"max_depth"``).
        max_output_chars: Stop before the text would grow past this many characters (reason
            ``"max_output_chars"``).
        use_alarm: Also arm ``SIGALRM`` at the deadline, so a program that stops producing
            trace events (or swallows the abort) is still interrupted. Main thread only; the
            sandbox driver turns it on.
        hard_stop: With ``use_alarm``: called with the partial (``"timeout"``) result when the
            program swallowed the first abort and the alarm fires again. It must end the
            process (the sandbox driver emits the record and exits); returning re-raises.
        namespace: Globals to run the module in (a fresh ``__main__``-like dict by default).

    Returns:
        A :class:`TraceResult`. Limits never fail silently: a stopped trace has no EOS,
        ``truncated=True`` and a reason. A program that does not compile, raises at import, or
        lacks the entry gives ``truncation_reason="error"`` with ``error`` set; module code
        that does not finish (with ``use_alarm``) gives ``"timeout"`` with ``error`` set. What
        the program prints goes to this process's stdout (the sandbox driver captures it).

    Raises:
        TraceError: Neither or both of ``entry`` and ``call`` were given.
    """
    context, entry_name = build_context(source, entry=entry, call=call, setup=setup)
    if entry is not None:
        # trace the program as written; only the context shown to a model carries the marker
        compiled_source = source if source.endswith("\n") or not source else source + "\n"
    else:
        compiled_source = context
    lines = _LINE_BREAK.split(compiled_source)
    try:
        code = compile(compiled_source, TRACE_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return _error_result(f"{type(exc).__name__}: {exc}", context, entry_name, call)
    linecache.cache[TRACE_FILENAME] = (len(compiled_source), None, [ln + "\n" for ln in lines],
                                       TRACE_FILENAME)
    ns: dict[str, Any] = namespace if namespace is not None else {}
    ns.setdefault("__name__", "__main__")
    ns.setdefault("__builtins__", __builtins__)
    module_alarm = use_alarm and _can_alarm()
    previous: Any = None
    try:
        if module_alarm:
            previous = signal.signal(signal.SIGALRM, _abort_module)
            signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 0.001), 0.25)
        try:
            exec(code, ns)
        finally:
            if module_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
    except _TraceAbort:
        result = _error_result("module code did not finish within the timeout", context, entry_name, call)
        result.truncation_reason = "timeout"
        return result
    except BaseException as exc:  # noqa: BLE001 - module code may raise anything
        return _error_result(f"module raised {type(exc).__name__}: {render_value(exc)}", context,
                             entry_name, call)
    func = ns.get(entry_name)
    entry_code = getattr(func, "__code__", None)
    if entry_code is None or entry_code.co_filename != TRACE_FILENAME:
        return _error_result(f"no function {entry_name!r} defined in the program", context,
                             entry_name, call)
    if entry_code.co_argcount or entry_code.co_kwonlyargcount or entry_code.co_posonlyargcount:
        return _error_result(f"entry {entry_name!r} must take no arguments", context, entry_name, call)
    if entry_code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        return _error_result(f"entry {entry_name!r} must be a plain function, not a generator or coroutine",
                             context, entry_name, call)

    tracer = _Tracer(lines, entry_code, max_frames=max_frames, max_value_chars=max_value_chars,
                     deadline=time.monotonic() + timeout_s, max_depth=max_depth,
                     max_output_chars=max_output_chars)
    uncaught: dict[str, str] | None = None
    alarm = use_alarm and _can_alarm()
    old_handler: Any = None
    alarms = 0
    stopper = hard_stop

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal alarms
        alarms += 1
        tracer.finished = True
        if tracer.truncation_reason is None:
            tracer.truncation_reason = "timeout"
        sys.settrace(None)
        if alarms > 1 and stopper is not None:
            # the program swallowed the first abort: hand over what was traced, then the
            # callback ends the process (it must not return)
            stopper(_build_result(tracer, None, source=compiled_source, context=context,
                                        entry=entry_name, call=call))
        raise _TraceAbort("timeout")

    if alarm:
        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        # repeat, so a program that swallows one abort is interrupted again
        signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 0.001), 0.25)
    old_trace = sys.gettrace()
    try:
        try:
            sys.settrace(tracer.global_trace)
            try:
                func()  # type: ignore[misc]  # checked above: a function from the traced source
            finally:
                sys.settrace(old_trace)
        except _TraceAbort as abort:
            if tracer.truncation_reason is None:
                tracer.truncation_reason = str(abort) or "timeout"
        except BaseException as exc:  # noqa: BLE001 - reported as the uncaught exception
            uncaught = {"type": type(exc).__name__, "message": _safe_str(exc), "repr": render_value(exc)}
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _TraceAbort:
        # the alarm fired between the call's end and the timer being cancelled
        if tracer.truncation_reason is None and not tracer.finished:
            tracer.truncation_reason = "timeout"
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
    tracer.finished = True
    return _build_result(tracer, uncaught, source=compiled_source, context=context, entry=entry_name,
                         call=call)


def _build_result(tracer: _Tracer, uncaught: dict[str, str] | None, *, source: str, context: str,
                  entry: str, call: str | None) -> TraceResult:
    n = min(len(tracer.frames), len(tracer.linenos), len(tracer.parts))
    complete = tracer.truncation_reason is None and len(tracer.parts) == n + 1 and \
        tracer.parts[-1] == END_OF_TEXT
    reason = tracer.truncation_reason
    if reason is None and not complete:
        # tracing stopped without a limit firing (e.g. RecursionError inside the trace hook)
        reason = "tracing_interrupted"
    frames, linenos = tracer.frames[:n], tracer.linenos[:n]
    text = "".join(tracer.parts[:n]) + (END_OF_TEXT if complete else "")
    non_cwm: list[str] = []
    if sys.implementation.name != "cpython" or sys.version_info[:2] != _CWM_PYTHON:
        non_cwm.append(f"interpreter {_VERSION} (CWM-exact output is defined for CPython 3.11)")
    if tracer.clipped:
        non_cwm.append(f"max_value_chars clipped {tracer.clipped} values")
    if tracer.unrepr:
        non_cwm.append("a repr raised; rendered as <unrepr>")
    non_cwm.extend(sorted(tracer.features))
    if not complete:
        non_cwm.append(f"truncated ({reason})")
    ambiguous = tracer.ambiguous or contains_special_token(source)
    if ambiguous:
        non_cwm.append("source or a value contains special-token text (or a value is '..')")
    return TraceResult(
        text=text, frames=frames, linenos=linenos, truncated=not complete,
        truncation_reason=None if complete else reason,
        cwm_exact=not non_cwm, non_cwm=non_cwm,
        exception_rendering="unverified" if any(f.event is TraceEvent.EXCEPTION for f in frames) else None,
        uncaught_exception=uncaught, ambiguous=ambiguous,
        return_value=tracer.return_value if complete and uncaught is None else None,
        context=context, seeded_frames=1 if call is not None else 0, entry=entry, call=call,
        clipped_values=tracer.clipped, hash_seed=os.environ.get("PYTHONHASHSEED"),
    )


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:
        return "<unprintable>"
