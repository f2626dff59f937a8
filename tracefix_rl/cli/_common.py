"""Helpers shared by the CLI's command modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

__all__ = ["fail", "recorded_env"]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr and return the ``typer.Exit`` to raise."""
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def recorded_env(**kwargs: Any) -> tuple[TraceFixEnvironment | RecordEpisodes, Path | None]:
    """An environment that records into the CLI's store, and the store's path (``None`` when
    ``TRACEFIX_RECORD=0``): ``$TRACEFIX_DB``, else ``./.tracefix/trajectories.sqlite3``."""
    from tracefix_rl.data.trajectories import default_db_path, default_recorder
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    env = TraceFixEnvironment(**kwargs)
    recorder = default_recorder()
    if recorder is None:
        return env, None
    return RecordEpisodes(env, recorder), default_db_path()
