"""The record channel's schema: exactly what each driver emits, in order (layer 2 of 2).

:func:`read_test_stream` and :func:`read_trace_stream` check the records an executor parsed
(:func:`tracefix_rl.engines.sandbox._records.parse_records`) against the typed records and the order
that :mod:`._driver_tests` and :mod:`tracefix_rl.engines.trace._driver` emit. Nothing here raises: the
first violation ends the trusted part of the stream, and the caller grades it as the program
breaking the harness protocol (never as an infrastructure error).

A program that forges *well-formed* records in the right order can only claim values it
computed itself (expected values never enter the sandbox), which is no different from
returning them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError

__all__ = [
    "CompileRecord",
    "ModuleRecord",
    "TestRecord",
    "TestStream",
    "TraceRecord",
    "TraceStream",
    "read_test_stream",
    "read_trace_stream",
]

# ------------------------------------------------------------------------------------------
# Schemas: exactly what the drivers emit
# ------------------------------------------------------------------------------------------

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)
# A traceback frame arrives as a JSON list [line, function, text]: the tuple itself accepts a
# list (not strict), its items stay strict.
_Frame = Annotated[tuple[Annotated[int, Strict(), Field(ge=0)] | None, Annotated[str, Strict()],
                         Annotated[str, Strict()]], Strict(False)]


class _Record(BaseModel):
    model_config = _STRICT


class CompileRecord(_Record):
    """The program compiled (``ok``) or has a syntax error (position and message)."""

    kind: Literal["compile"]
    ok: bool
    line: Annotated[int, Field(ge=0)] | None = None
    offset: int | None = None
    message: str = ""
    text: str = ""


class ModuleRecord(_Record):
    """Executing the program's module code finished (``ok``) or raised."""

    kind: Literal["module"]
    ok: bool
    stdout: str
    exc_type: str | None = None
    exc_message: str | None = None
    traceback: list[_Frame] = Field(default_factory=list)


class StartRecord(_Record):
    """Test ``index`` is about to run."""

    kind: Literal["start"]
    index: Annotated[int, Field(ge=0)]


class TestRecord(_Record):
    """How test ``index`` ended: its canonical value, its exception, or a timeout."""

    __test__ = False

    kind: Literal["test"]
    index: Annotated[int, Field(ge=0)]
    name: str
    status: Literal["returned", "raised", "timeout"]
    stdout: str
    duration_ms: Annotated[float, Field(ge=0)]
    value: str | None = None
    display: str | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    traceback: list[_Frame] = Field(default_factory=list)


class DoneRecord(_Record):
    """The driver finished its work."""

    kind: Literal["done"]


class OversizeRecord(_Record):
    """The driver's emitter replaced a record larger than its cap."""

    kind: Literal["oversize"]
    bytes: Annotated[int, Field(ge=0)]


class TraceRecord(_Record):
    """A finished or truncated trace (``TraceResult.to_dict()``)."""

    kind: Literal["trace"]
    text: str
    linenos: list[int]
    truncated: bool
    truncation_reason: str | None
    python_version: str
    cwm_exact: bool
    non_cwm: list[str]
    exception_rendering: str | None
    uncaught_exception: dict[str, str] | None
    ambiguous: bool
    return_value: str | None
    context: str
    seeded_frames: Annotated[int, Field(ge=0)]
    entry: str
    call: str | None
    clipped_values: Annotated[int, Field(ge=0)]
    hash_seed: str | None
    error: str | None
    stdout: str


class TraceErrorRecord(_Record):
    """Tracing could not start for a reason of the program (for example no such entry)."""

    kind: Literal["trace_error"]
    message: str


_TestsAdapter: TypeAdapter[Any] = TypeAdapter(Annotated[
    CompileRecord | ModuleRecord | StartRecord | TestRecord | DoneRecord | OversizeRecord,
    Field(discriminator="kind")])
_TraceAdapter: TypeAdapter[Any] = TypeAdapter(Annotated[
    TraceRecord | TraceErrorRecord | DoneRecord | OversizeRecord, Field(discriminator="kind")])


def _validate(adapter: TypeAdapter[Any], record: dict[str, Any]) -> Any:
    """The typed record, or a short description of what is wrong with it."""
    try:
        return adapter.validate_python(record)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        kind = record.get("kind")
        return f"{kind if isinstance(kind, str) else 'a'} record{' field ' + where if where else ''}: {err['msg']}"


def _protocol(detail: str) -> str:
    return f"the program broke the harness protocol ({detail[:300]})"


@dataclass
class TestStream:
    """The validated records of one ``tests`` job.

    ``tests`` maps a test index to its record; ``started`` holds indexes whose ``start`` was
    seen. When the stream broke the protocol, ``violation`` says how and ``broken_at`` is the
    first test index it affects: every test from there on has no trusted result.
    """

    __test__ = False

    syntax: CompileRecord | None = None
    module: ModuleRecord | None = None
    module_stdout: str = ""
    started: set[int] = field(default_factory=set)
    tests: dict[int, TestRecord] = field(default_factory=dict)
    oversize: set[int] = field(default_factory=set)
    finished: bool = False
    violation: str | None = None
    broken_at: int | None = None


def _timed_out(stream: TestStream, index: int) -> bool:
    result = stream.tests.get(index)
    return result is not None and result.status == "timeout"


def read_test_stream(records: list[dict[str, Any]], names: list[str], framing_error: str = "") -> TestStream:
    """Check ``records`` against the test driver's grammar for tests called ``names``.

    The order is ``compile``, ``module``, then ``start i`` and ``test i`` (or ``oversize``)
    for ``i = 0, 1, ...``, then ``done``; a failed compile or module ends the stream early,
    ``done`` may also follow a test that timed out (a job asked to stop at its first timeout;
    the tests after it are then not run, which never counts as passing), and a killed job may
    end it anywhere. Anything else is a violation. ``framing_error`` is
    the executor's :attr:`~tracefix_rl.engines.sandbox.Execution.protocol_error`, a violation after the
    last record.
    """
    out = TestStream()
    n = len(names)
    expect = "compile"
    index = 0

    def broken(detail: str) -> TestStream:
        out.violation = _protocol(detail)
        out.broken_at = index
        return out

    for rec in records:
        typed = _validate(_TestsAdapter, rec)
        if isinstance(typed, str):
            return broken(typed)
        kind = typed.kind
        if expect == "end":
            return broken(f"a {kind} record after the end of the stream")
        if kind != expect and not (expect == "test" and kind == "oversize") \
                and not (expect == "start" and kind == "done" and (index == n or _timed_out(out, index - 1))):
            return broken(f"a {kind} record where a {expect} record was due"
                          + (f" (test {index})" if expect in ("start", "test") else ""))
        if isinstance(typed, CompileRecord):
            if not typed.ok:
                out.syntax = typed
            expect = "module" if typed.ok else "end"
        elif isinstance(typed, ModuleRecord):
            out.module_stdout = typed.stdout
            if not typed.ok:
                out.module = typed
            expect = "start" if typed.ok else "end"
        elif isinstance(typed, StartRecord):
            if typed.index != index or index >= n:
                return broken(f"start of test {typed.index} where test {index} was due")
            out.started.add(index)
            expect = "test"
        elif isinstance(typed, TestRecord):
            if typed.index != index or typed.name != names[index]:
                return broken(f"result for test {typed.index} ({typed.name!r}) where test {index} was due")
            if (typed.status == "returned") != (typed.value is not None and typed.display is not None) \
                    or (typed.status == "raised") != (typed.exc_type is not None):
                return broken(f"test {index} result with status {typed.status!r} lacks its fields")
            out.tests[index] = typed
            index += 1
            expect = "start"
        elif isinstance(typed, OversizeRecord):
            out.oversize.add(index)
            index += 1
            expect = "start"
        else:  # done
            out.finished = True
            expect = "end"
    if framing_error:
        return broken(framing_error)
    return out


@dataclass
class TraceStream:
    """The validated records of one ``trace`` job: the trace, a trace error, or a violation."""

    trace: TraceRecord | None = None
    error: str | None = None
    oversize: bool = False
    violation: str | None = None


def read_trace_stream(records: list[dict[str, Any]], framing_error: str = "") -> TraceStream:
    """Check ``records`` against the trace driver's output: one ``trace`` (or ``trace_error``
    or ``oversize``) record, then ``done``."""
    out = TraceStream()
    seen_result = finished = False
    for rec in records:
        typed = _validate(_TraceAdapter, rec)
        if isinstance(typed, str):
            out.violation = _protocol(typed)
            return out
        if finished or (seen_result and typed.kind != "done") or (not seen_result and typed.kind == "done"):
            out.violation = _protocol(f"a {typed.kind} record out of order")
            return out
        if isinstance(typed, TraceRecord):
            out.trace = typed
        elif isinstance(typed, TraceErrorRecord):
            out.error = typed.message
        elif isinstance(typed, OversizeRecord):
            out.oversize = True
        finished = typed.kind == "done"
        seen_result = True
    if framing_error:
        out.violation = _protocol(framing_error)
    return out
