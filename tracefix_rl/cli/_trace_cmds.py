"""CLI commands for traces: ``tracefix trace`` and ``tracefix traces score``.

Register them in the main app with::

    app.command("trace")(trace_command)
    app.add_typer(traces_app, name="traces")

Both trace through the sandbox (:func:`tracefix_rl.engines.trace.trace_in_sandbox`), since the
programs are untrusted.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tracefix_rl.cli._common import fail
from tracefix_rl.core.errors import TraceError
from tracefix_rl.engines.trace import TraceResult, aggregate, render_pretty, score_trace, trace_in_sandbox
from tracefix_rl.engines.trace.metrics import APPROX_TOKENIZER, METRIC_LABELS, TraceScore, trace_statistics

__all__ = ["TraceFormat", "score_command", "trace_command", "traces_app"]

traces_app = typer.Typer(help="Work with CWM-format execution traces.", no_args_is_help=True)


class TraceFormat(StrEnum):
    """Output formats of ``tracefix trace``."""

    cwm = "cwm"
    pretty = "pretty"
    json = "json"


def trace_command(
    file: Annotated[Path, typer.Argument(help="Python source file to trace.", exists=True, dir_okay=False)],
    entry: Annotated[str | None, typer.Option("--entry", help="Zero-argument function to trace.")] = None,
    call: Annotated[str | None, typer.Option("--call", help="Call expression, e.g. \"f(3, 'ab')\".")] = None,
    format: Annotated[TraceFormat, typer.Option("--format", help="cwm | pretty | json")] = TraceFormat.cwm,
    max_frames: Annotated[int, typer.Option(help="Stop after this many frames.")] = 2000,
    timeout: Annotated[float, typer.Option(help="Tracing budget in seconds.")] = 5.0,
) -> None:
    """Trace FILE in the sandbox and print the trace.

    ``cwm`` prints the exact generation string, starting with the entry's call frame (in
    ``--call`` mode, the marked ``main`` wrapper's), followed by one newline. ``pretty`` prints a
    bounded readable rendering; ``json`` prints the full result with its metadata. A
    truncated trace is reported on stderr and exits with status 1.
    """
    if (entry is None) == (call is None):
        raise fail("give exactly one of --entry NAME and --call EXPR")
    source = file.read_text(encoding="utf-8")
    try:
        result = trace_in_sandbox(source, entry=entry, call=call, max_frames=max_frames, timeout_s=timeout)
    except TraceError as exc:
        raise fail(str(exc), 3) from None
    if format is TraceFormat.cwm:
        sys.stdout.write(result.text + "\n")
        sys.stdout.flush()
    elif format is TraceFormat.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        console = Console(soft_wrap=True)
        console.print(render_pretty(result, max_frames=max_frames), markup=False, highlight=False)
        if not result.cwm_exact:
            console.print("not CWM-exact: " + "; ".join(result.non_cwm), style="yellow", markup=False)
    if result.truncated:
        Console(stderr=True).print(
            f"trace truncated ({result.truncation_reason})" + (f": {result.error}" if result.error else ""),
            style="yellow", markup=False)
        raise typer.Exit(1)


def _record_fields(rec: dict[str, Any], lineno: int) -> tuple[str, str | None, str | None, str, str]:
    source = rec.get("program", rec.get("source"))
    prediction = rec.get("prediction", rec.get("generation"))
    entry, call = rec.get("entry"), rec.get("call")
    if not isinstance(source, str) or not isinstance(prediction, str):
        raise ValueError(f"line {lineno}: needs string 'program' (or 'source') and 'prediction' (or 'generation')")
    if (entry is None) == (call is None):
        raise ValueError(f"line {lineno}: needs exactly one of 'entry' and 'call'")
    return source, entry, call, str(rec.get("setup") or ""), prediction


def score_records(records: list[dict[str, Any]], *, timeout_s: float = 5.0,
                  max_frames: int = 2000) -> dict[str, Any]:
    """Trace each record's ground truth in the sandbox and score its prediction.

    Returns a JSON-able report: ``overall`` (every scored trace), ``without_exceptions`` and
    ``with_exceptions`` (ground truth containing exception frames, whose rendering is
    unverified against CWM), ``ground_truth`` length statistics (macro-averaged per-trace
    means, approximate tokens), ``per_trace`` scores, and ``skipped`` records with their reason
    (a truncated ground truth is never scored).
    """
    scores: list[TraceScore] = []
    verified: list[TraceScore] = []
    unverified: list[TraceScore] = []
    per_trace: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    state_len: list[float] = []
    action_len: list[float] = []
    for i, rec in enumerate(records, 1):
        try:
            source, entry, call, setup, prediction = _record_fields(rec, i)
        except ValueError as exc:
            skipped.append({"line": i, "reason": str(exc)})
            continue
        truth: TraceResult = trace_in_sandbox(source, entry=entry, call=call, setup=setup,
                                              timeout_s=timeout_s, max_frames=max_frames)
        if truth.truncated:
            skipped.append({"line": i, "reason": f"ground truth truncated ({truth.truncation_reason})"})
            continue
        gt_frames = truth.frames[truth.seeded_frames:]
        stats = trace_statistics(gt_frames)
        state_len.append(float(stats["avg_state_length"]))
        action_len.append(float(stats["avg_action_length"]))
        score = score_trace(prediction, truth.frames, seeded_frames=truth.seeded_frames)
        scores.append(score)
        (unverified if truth.exception_rendering else verified).append(score)
        per_trace.append({"line": i, "id": rec.get("id"), **score.as_dict()})
    return {
        "overall": aggregate(scores),
        "without_exceptions": aggregate(verified),
        "with_exceptions": aggregate(unverified),
        "ground_truth": {
            "avg_state_length": sum(state_len) / len(state_len) if state_len else 0.0,
            "avg_action_length": sum(action_len) / len(action_len) if action_len else 0.0,
            "tokenizer": APPROX_TOKENIZER,
        },
        "per_trace": per_trace,
        "skipped": skipped,
    }


def _table(report: dict[str, Any]) -> Table:
    table = Table(title="Trace prediction metrics (macro-average over traces, 0-100)")
    table.add_column("metric")
    cols = [("overall", "all")]
    if report["with_exceptions"]["n"]:
        cols += [("without_exceptions", "no exception frames"),
                 ("with_exceptions", "with exception frames (unverified rules)")]
    for _, title in cols:
        table.add_column(title, justify="right")
    for name, label in METRIC_LABELS.items():
        table.add_row(label, *(f"{report[key][name]:.2f}" for key, _ in cols))
    table.add_row("traces scored", *(str(int(report[key]["n"])) for key, _ in cols))
    gt = report["ground_truth"]
    table.caption = (f"GT avg state length {gt['avg_state_length']:.2f}, avg action length "
                     f"{gt['avg_action_length']:.2f} tokens ({gt['tokenizer']})")
    return table


@traces_app.command("score")
def score_command(
    pred: Annotated[Path, typer.Argument(help="JSONL: program, entry or call, [setup], prediction.",
                                         exists=True, dir_okay=False)],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the JSON report here.")] = None,
    timeout: Annotated[float, typer.Option(help="Ground-truth tracing budget per record, seconds.")] = 5.0,
) -> None:
    """Score predicted traces against ground truth computed in the sandbox.

    Each line of PRED is a JSON object with ``program`` (or ``source``), exactly one of
    ``entry`` and ``call``, optional ``setup`` and ``id``, and ``prediction`` (or
    ``generation``): the predicted generation after the prompt (repeating the seeded wrapper
    frame is allowed). Prints the metrics table, then the JSON report.
    """
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(pred.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise fail(f"{pred}:{lineno}: not JSON: {exc}") from None
        if not isinstance(rec, dict):
            raise fail(f"{pred}:{lineno}: expected a JSON object")
        records.append(rec)
    try:
        report = score_records(records, timeout_s=timeout)
    except TraceError as exc:
        raise fail(str(exc), 3) from None
    console = Console()
    console.print(_table(report))
    for skip in report["skipped"]:
        console.print(f"skipped line {skip['line']}: {skip['reason']}", style="yellow", markup=False)
    summary = {k: v for k, v in report.items() if k != "per_trace"}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
