"""CLI commands for trajectories: ``tracefix replay`` and ``tracefix trajectories ...``.

Register them in the main app with::

    app.command("replay")(replay_command)
    app.add_typer(trajectories_app, name="trajectories")

Every command reads the store at ``--db`` (default ``$TRACEFIX_DB`` or
``./.tracefix/trajectories.sqlite3``). Exit codes: 0 success / VERIFIED, 1 replay divergence, 2
usage or data error (missing store, unknown episode, unreadable file): errors raise and the CLI's
error boundary (:mod:`tracefix_rl.cli._errors`) prints them as one line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tracefix_rl.cli._common import DB_HELP, Col, dropped_note, fail, fitted_table

__all__ = ["replay_command", "trajectories_app"]

trajectories_app = typer.Typer(help="List, show, export, import and merge recorded episodes.", no_args_is_help=True)


class ExportFormat(StrEnum):
    """Formats of ``tracefix trajectories export``."""

    jsonl = "jsonl"
    parquet = "parquet"
    sft = "sft"
    mini_swe_agent = "mini-swe-agent"


class SFTStyle(StrEnum):
    """Renderings of ``--format sft``."""

    tools = "tools"
    json = "json"


class ArgumentsForm(StrEnum):
    """How ``--format sft --style tools`` writes tool-call arguments."""

    dict = "dict"
    string = "string"


class OnConflict(StrEnum):
    """What ``import`` does with an episode id that is already stored."""

    error = "error"
    skip = "skip"
    replace_existing = "replace"


def _db_path(db: Path | None, *, must_exist: bool = True) -> Path:
    from tracefix_rl.data.trajectories import default_db_path

    path = db.expanduser() if db is not None else default_db_path()
    if must_exist and not path.exists():
        raise fail(f"no trajectory store at {path}")
    return path


def _store(db: Path | None, *, must_exist: bool = True) -> Any:
    from tracefix_rl.data.trajectories import TrajectoryStore

    return TrajectoryStore(_db_path(db, must_exist=must_exist))


def _parse_time(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"not an ISO date/time: {text!r} (e.g. 2026-04-01 or 2026-04-01T12:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def replay_command(
    episode_id: Annotated[str | None, typer.Argument(help="Episode to replay (default: the latest).")] = None,
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Replay from an exported JSONL/Parquet file instead.",
                                              exists=True, dir_okay=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-run a recorded episode in a fresh environment and verify it step by step.

    Prints VERIFIED, or the first divergent step with every field that differs (exit 1).
    """
    from tracefix_rl.data.trajectories import read_records
    from tracefix_rl.env.replay import replay, replay_record

    if file is not None:
        records = [r for r in read_records(file) if episode_id is None or r["episode_id"] == episode_id]
        if not records:
            raise fail(f"no episode {episode_id!r} in {file}" if episode_id else f"no episodes in {file}")
        reports = [replay_record(r) for r in records]
    else:
        reports = [replay(episode_id, db=_db_path(db))]
    console = Console()
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict(),
                                    indent=2, default=str) + "\n")
    else:
        for r in reports:
            for w in r.warnings:
                console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
            if r.verified:
                console.print(f"[bold green]VERIFIED[/bold green] {r.episode_id} ({r.task_name}): "
                              f"{r.steps_checked} steps, final score {r.final_score_replayed}, "
                              f"{r.seconds:.2f}s ({r.steps_per_second:.0f} steps/s)", highlight=False)
            else:
                console.print(f"[bold red]DIVERGED[/bold red] {r.episode_id} ({r.task_name}) at step "
                              f"{r.first_divergence} after {r.steps_checked} verified steps", highlight=False)
                console.print(r.diff, markup=False, highlight=False)
    if not all(r.verified for r in reports):
        raise typer.Exit(1)


@trajectories_app.command("list")
def list_command(
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    min_score: Annotated[float | None, typer.Option(help="Final score at least this.")] = None,
    max_score: Annotated[float | None, typer.Option(help="Final score at most this.")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ISO date/time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Started at or before (ISO date/time, UTC).")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only episodes with security flags.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
    full_ids: Annotated[bool, typer.Option("--full-ids", help="Show whole episode ids, not 12-char prefixes.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List recorded episodes, newest first. Every command accepts a unique id prefix."""
    store = _store(db)
    rows = store.list_episodes(task=task, min_score=min_score, max_score=max_score, since=_parse_time(since),
                               until=_parse_time(until), flagged=True if flagged else None, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    console = Console()
    columns = [Col("episode", keep=True), Col("task", keep=True), Col("score", justify="right"),
               Col("steps", justify="right"), Col("end"), Col("started (UTC)"), Col("seed", justify="right"),
               Col("flags", justify="right")]
    table, dropped = fitted_table(console, columns, [
        [r["episode_id"] if full_ids else r["episode_id"][:12], r["task_name"],
         "-" if r["final_score"] is None else f"{r['final_score']:.2f}", str(r["total_steps"]),
         r["end_reason"] or ("open" if not r["done"] else "-"), _when(r["start_time"]), str(r["seed"]),
         str(r["flag_count"] or "")] for r in rows])
    console.print(table)
    dropped_note(console, dropped)


@trajectories_app.command("show")
def show_command(
    episode_id: Annotated[str | None, typer.Argument(help="Episode (default: the latest).")] = None,
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Show one episode: manifest summary and the step timeline (with security flags)."""
    rec = _store(db).load_episode(episode_id)
    if as_json:
        sys.stdout.write(json.dumps(rec, indent=2) + "\n")
        return
    console = Console()
    m = rec["manifest"]
    score = "-" if rec["final_score"] is None else f"{rec['final_score']:.2f}"
    console.print(f"[bold]{rec['episode_id']}[/bold]  task {rec['task_name']} ({rec['difficulty']}), seed {rec['seed']}, "
                  f"variant {rec['variant']}, {rec['total_steps']} steps, final score {score} "
                  f"({rec['end_reason'] or 'not ended'})", highlight=False)
    console.print(f"tracefix-rl {m.get('package_version')}, Python {m.get('python_version')}, isolation "
                  f"{m.get('isolation')}, task hash {str(m.get('task_hash'))[:12]}, started {_when(rec['start_time'])}",
                  highlight=False)
    table = Table("step", "action", "reward", "cum.", "pass", "error", "flags")
    for s in rec["steps"]:
        a = s["action"]
        what = a["action_type"]
        if what == "REPLACE_LINES":
            what += f" {a.get('start_line')}-{a.get('end_line')}"
        flags = ", ".join(f"{f['code']}@{f['line']}" for f in s["security_flags"])
        table.add_row(str(s["step"]), what, f"{s['reward']:+.2f}", f"{s['cumulative_reward']:+.2f}",
                      "-" if s["pass_rate"] is None else f"{s['pass_rate']:.0%}", (s["error"] or "")[:40],
                      flags, style="red" if s["security_flags"] else None)
    console.print(table)


@trajectories_app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="Output file (.jsonl or .parquet); a directory for mini-swe-agent.")],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    format: Annotated[ExportFormat | None, typer.Option(
        "--format", help="jsonl | parquet: episode records (default: from the suffix); sft: chat rows for "
                         "fine-tuning (JSONL, or Parquet by suffix); mini-swe-agent: one .traj.json per episode")] = None,
    style: Annotated[SFTStyle, typer.Option(help="sft: 'tools' (tool calls, as TraceFixToolEnv) or 'json' "
                                                 "(JSON actions, as inference.py).")] = SFTStyle.tools,
    resolved_only: Annotated[bool, typer.Option("--resolved-only", help="sft / mini-swe-agent: only episodes whose "
                                                "every visible and hidden test passed.")] = False,
    max_output_chars: Annotated[int | None, typer.Option(help="sft / mini-swe-agent: longest tool output shown "
                                                         "(default: the interface's own).")] = None,
    arguments: Annotated[ArgumentsForm, typer.Option(help="sft tools: tool-call arguments as a 'dict' (TRL) or "
                                                          "JSON 'string' (OpenAI).")] = ArgumentsForm.dict,
    episode: Annotated[list[str] | None, typer.Option("--episode", help="Only these episodes (repeatable).")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    min_score: Annotated[float | None, typer.Option(help="Final score at least this.")] = None,
    max_score: Annotated[float | None, typer.Option(help="Final score at most this.")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ISO date/time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Started at or before (ISO date/time, UTC).")] = None,
) -> None:
    """Export episodes: records (JSONL/Parquet), SFT chat rows, or mini-swe-agent trajectories.

    sft and mini-swe-agent regenerate every observation by verified replay; an episode whose
    replay diverges is refused and listed (exit 1), the others are written. An episode the
    chosen style cannot express is skipped and listed.
    """
    store = _store(db)
    filters: dict[str, Any] = {"episode_ids": episode or None, "task": task, "min_score": min_score,
                               "max_score": max_score, "since": _parse_time(since), "until": _parse_time(until)}
    err = Console(stderr=True)
    if format in (ExportFormat.sft, ExportFormat.mini_swe_agent):
        from tracefix_rl.integrations.sft import export_mini_swe_agent, export_sft

        if format is ExportFormat.sft:
            report = export_sft(store, out, style=style.value, resolved_only=resolved_only,
                                max_output_chars=max_output_chars, arguments=arguments.value, **filters)
        else:
            report = export_mini_swe_agent(store, out, resolved_only=resolved_only,
                                           output_chars=max_output_chars, **filters)
        for eid, reason in report.skipped:
            err.print(f"skipped {eid}: {reason}", highlight=False)
        for eid, reason in report.refused:
            err.print(f"[red]refused[/red] {eid}: {reason}", highlight=False)
        counts = [f"{n} {what}" for n, what in ((report.filtered, "filtered out"),
                                               (len(report.skipped), "skipped"),
                                               (len(report.refused), "refused")) if n]
        err.print(f"exported {report.exported} episode(s) to {out}"
                  + (f" ({', '.join(counts)})" if counts else ""), highlight=False)
        if report.refused:
            raise typer.Exit(1)
        return
    from tracefix_rl.data.trajectories import export_episodes

    n = export_episodes(store, out, fmt=format.value if format else None, **filters)
    err.print(f"exported {n} episode(s) to {out}", highlight=False)


@trajectories_app.command("import")
def import_command(
    src: Annotated[Path, typer.Argument(help="Exported .jsonl or .parquet file.", exists=True, dir_okay=False)],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    on_conflict: Annotated[OnConflict, typer.Option("--on-conflict", help="error | skip | replace")] = OnConflict.error,
) -> None:
    """Import exported episodes into the store."""
    from tracefix_rl.data.trajectories import import_episodes

    store = _store(db, must_exist=False)
    ids = import_episodes(src, store, on_conflict=on_conflict.value)
    Console(stderr=True).print(f"imported {len(ids)} episode(s) into {store.path}", highlight=False)


@trajectories_app.command("merge")
def merge_command(
    dest: Annotated[Path, typer.Argument(help="The store to merge into (created if missing).", dir_okay=False)],
    sources: Annotated[list[Path], typer.Argument(help="Stores to copy from, e.g. host-*.sqlite3 of a pool.",
                                                  exists=True, dir_okay=False)],
    on_conflict: Annotated[OnConflict, typer.Option(
        "--on-conflict", help="An id stored with other content in two files: error | skip (keep the first) | "
                              "replace (keep the last).")] = OnConflict.error,
) -> None:
    """Merge trajectory stores (e.g. one per pool host, copied from their nodes) into one.

    Identical copies of an episode are stored once; every episode keeps its steps and
    observations, so the merged store replays exactly as its sources.
    """
    from tracefix_rl.data.trajectories import merge_stores

    report = merge_stores(sources, dest, on_conflict=on_conflict.value)  # errors: the CLI's one-line boundary
    err = Console(stderr=True)
    for src, n in report.per_source.items():
        err.print(f"{n} episode(s) from {src}", highlight=False, soft_wrap=True)
    extra = [f"{n} {what}" for n, what in ((report.identical, "already there"),
                                           (len(report.skipped), "skipped as conflicting")) if n]
    err.print(f"merged {report.merged} episode(s) into {dest}" + (f" ({', '.join(extra)})" if extra else ""),
              highlight=False, soft_wrap=True)
