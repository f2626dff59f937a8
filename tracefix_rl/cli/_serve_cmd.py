"""CLI command ``tracefix serve``: run the OpenEnv server.

Register it in the main app with::

    app.command("serve")(serve_command)
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str, typer.Option(envvar="HOST", help="Bind address.")] = "0.0.0.0",
    port: Annotated[Optional[int], typer.Option(help="Port (default: $PORT, else 7860).")] = None,  # noqa: UP045
    max_sessions: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Concurrent WebSocket sessions (default: $TRACEFIX_MAX_SESSIONS, else 256).")] = None,
    session_timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="Idle seconds before a session is reaped, 0 = never (default: $TRACEFIX_SESSION_TIMEOUT, "
             "else 600).")] = None,
) -> None:
    """Serve TraceFix-RL over OpenEnv (WebSocket sessions at /ws, /health, /schema, /metadata, ...)."""
    try:
        from tracefix_rl.server.app import serve
    except ImportError as exc:
        typer.echo(f"the server needs the 'server' extra (pip install 'tracefix-rl[server]'): {exc}", err=True)
        raise typer.Exit(1) from None
    serve(host, port, max_sessions=max_sessions, session_timeout=session_timeout)
