"""Helpers shared by the CLI's command modules: errors, the recording environment, tables, JSON."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tracefix_rl.cli._errors import print_error
from tracefix_rl.core.errors import TraceFixError, TrajectoryError

if TYPE_CHECKING:
    from tracefix_rl.data.tasks import TaskSource
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

__all__ = ["DB_HELP", "TASK_PACK_HELP", "Col", "dropped_note", "fail", "fitted_table", "print_json", "read_text", "recorded_env", "task_source"]

TASK_PACK_HELP = ("A task pack (.jsonl, .parquet or a directory, from 'tracefix tasks build' or 'tracefix tasks "
                  "import') instead of the built-in bank.")

#: The ``--db`` option's help of every command that reads the trajectory store.
DB_HELP = "Trajectory database (default: $TRACEFIX_DB or ./.tracefix/trajectories.sqlite3)."


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr (one line) and return the ``typer.Exit`` to raise.

    For errors that are not exceptions (a check done by the command itself); exceptions go to
    the error boundary (:mod:`tracefix_rl.cli._errors`) instead.
    """
    print_error(message)
    return typer.Exit(code)


def task_source(task_pack: str | Path | None) -> TaskSource:
    """The built-in bank, or the pack at ``task_pack`` (a TaskError names a missing or bad pack)."""
    from tracefix_rl.data.tasks import open_task_source

    return open_task_source(str(task_pack) if task_pack else None)


def recorded_env(**kwargs: Any) -> tuple[TraceFixEnvironment | RecordEpisodes, Path | None]:
    """An environment that records into the CLI's store, and the store's path (``None`` when
    ``TRACEFIX_RECORD=0``): ``$TRACEFIX_DB``, else ``./.tracefix/trajectories.sqlite3``.

    Raises TrajectoryError naming the path when the store cannot be created or opened.
    """
    from tracefix_rl.data.trajectories import default_db_path, default_recorder
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    env = TraceFixEnvironment(**kwargs)
    path = default_db_path()
    try:
        recorder = default_recorder()
    except (OSError, sqlite3.Error, TraceFixError) as exc:
        from tracefix_rl.cli._errors import describe

        reason = describe(exc)  # the store's own errors already name it
        what = reason if isinstance(exc, TraceFixError) else f"cannot open the trajectory store {path}: {reason}"
        raise TrajectoryError(f"{what}; set TRACEFIX_DB to a writable file, or TRACEFIX_RECORD=0 to record "
                              "nothing") from exc
    if recorder is None:
        return env, None
    return RecordEpisodes(env, recorder), path


def read_text(path: Path) -> str:
    """The UTF-8 text of a file the user named; a ValueError names the file if it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (for ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@dataclass(frozen=True)
class Col:
    """A column of :func:`fitted_table`: ``keep`` columns are never dropped and never cut."""

    header: str
    keep: bool = False
    justify: str = "left"


def fitted_table(console: Console, columns: Sequence[Col], rows: Sequence[Sequence[str]],
                 *, title: str | None = None) -> tuple[Table, list[str]]:
    """A table that fits the console: optional columns are dropped, last first, until it does.

    The ``keep`` columns (the names a user types) are shown whole, never truncated. Returns the
    table and the headers of the dropped columns (say so under the table).
    """
    widths = [max([len(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))

    def width(idx: list[int]) -> int:  # box.SIMPLE_HEAD without edges: padding 1+1 and a 1-space rule
        return sum(widths[i] + 3 for i in idx) - 1

    for i in reversed(range(len(columns))):
        if width(shown) <= console.width:
            break
        if not columns[i].keep:
            shown.remove(i)
    table = Table(box=box.SIMPLE_HEAD, title=title, pad_edge=True, show_edge=False)
    for i in shown:
        c = columns[i]
        table.add_column(c.header, no_wrap=c.keep, min_width=widths[i] if c.keep else None,
                         overflow="fold", justify=c.justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*(r[i] for i in shown))
    return table, [columns[i].header for i in range(len(columns)) if i not in shown]


def dropped_note(console: Console, dropped: list[str]) -> None:
    """Say which columns :func:`fitted_table` left out."""
    if dropped:
        console.print(f"[dim](hidden at {console.width} columns: {', '.join(dropped)}; --json shows all)[/dim]",
                      highlight=False, soft_wrap=True)
