"""Helpers shared by the CLI's command modules."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["fail"]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr and return the ``typer.Exit`` to raise."""
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
