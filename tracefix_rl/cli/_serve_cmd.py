"""CLI command ``tracefix serve``: run the OpenEnv server.

Register it in the main app with::

    app.command("serve")(serve_command)
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tracefix_rl.cli._common import fail

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str, typer.Option(envvar="HOST", help="Bind address (0.0.0.0 exposes the server to the "
                                                          "network: set an API key then).")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Port (default: $PORT, else 7860).")] = None,  # noqa: UP045
    max_sessions: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Concurrent WebSocket sessions (default: $TRACEFIX_MAX_SESSIONS, else 256).")] = None,
    session_timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="Idle seconds before a session is reaped, 0 = never (default: $TRACEFIX_SESSION_TIMEOUT, "
             "else 600).")] = None,
    api_key: Annotated[Optional[str], typer.Option(  # noqa: UP045
        envvar="TRACEFIX_API_KEY", show_envvar=True,
        help="Require this key (several: comma-separated) on HTTP and WebSocket; each key sees only "
             "its own recorded episodes.")] = None,
    task_pack: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--task-pack", envvar="TRACEFIX_TASK_PACK", show_envvar=True,
        help="A task pack (.jsonl, .parquet or a directory) that sessions draw from when reset names none "
             "(instead of the built-in bank).")] = None,
    task_pack_dir: Annotated[Optional[str], typer.Option(  # noqa: UP045
        envvar="TRACEFIX_TASK_PACK_DIR", show_envvar=True,
        help="Directory whose task packs clients may name in reset(task_pack=NAME).")] = None,
    trajectory_routes: Annotated[bool, typer.Option(
        help="Serve /episodes and /trajectories without an API key ($TRACEFIX_TRAJECTORY_ROUTES=1).")] = False,
    max_message_bytes: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Cap of one WebSocket message or HTTP body (default: $TRACEFIX_MAX_MESSAGE_BYTES, else 1 MiB).")] = None,
    log_level: Annotated[str, typer.Option(envvar="TRACEFIX_LOG_LEVEL", help="uvicorn's log level.")] = "info",
) -> None:
    """Serve TraceFix-RL over OpenEnv (WebSocket sessions at /ws, /health, /schema, /metadata, ...)."""
    try:
        from tracefix_rl.server.app import serve
    except ImportError as exc:
        raise fail(f"the server needs the 'server' extra (pip install 'tracefix-rl[server]'): {exc}") from None
    serve(host, port, max_sessions=max_sessions, session_timeout=session_timeout, api_key=api_key,
          task_pack_dir=task_pack_dir, trajectory_routes=trajectory_routes or None,
          max_message_bytes=max_message_bytes, task_pack=task_pack, log_level=log_level)
