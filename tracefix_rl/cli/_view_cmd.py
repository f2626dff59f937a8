"""CLI command ``tracefix view``: the trajectory viewer on this machine.

Register it in the main app with::

    app.command("view")(view_command)
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Optional

import typer

from tracefix_rl.cli._common import DB_HELP, fail

__all__ = ["view_command"]

DEFAULT_PORT = 8765


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def view_command(
    db: Annotated[Optional[Path], typer.Option(help=DB_HELP)] = None,  # noqa: UP045
    port: Annotated[int, typer.Option(help="Port to serve on.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Bind address. Anything but a loopback address shows every "
                                           "episode, reference solution included, to the network.")] = "127.0.0.1",
    replay: Annotated[bool, typer.Option(help="Offer the verify-replay button (re-runs episodes in the "
                                              "sandbox).")] = True,
) -> None:
    """Browse recorded episodes in a web browser: list, episode steps, tasks, compare, verify replay."""
    try:
        import uvicorn
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        from tracefix_rl.viewer import create_viewer_app
    except ImportError as exc:
        raise fail(f"the viewer needs the 'viewer' extra (pip install 'tracefix-rl[viewer]'): {exc}") from None
    from tracefix_rl.data.trajectories import TrajectoryStore, default_db_path

    path = db.expanduser() if db is not None else default_db_path()
    if not path.exists():
        raise fail(f"no trajectory store at {path} (run an episode, e.g. 'tracefix demo', or pass --db)")
    store = TrajectoryStore(path)
    app = create_viewer_app(store, replay=replay, title=f"TraceFix-RL · {path.name}")
    asgi: object = app
    if _loopback(host):  # a page on another site cannot reach it through DNS rebinding either
        asgi = TrustedHostMiddleware(app, allowed_hosts=["127.0.0.1", "localhost", "::1", "[::1]"])
    else:
        typer.echo(f"warning: serving on {host}: anyone who can reach it sees every episode and every task's "
                   "reference solution", err=True)
    typer.echo(f"TraceFix-RL viewer for {path}: http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/ "
               "(Ctrl+C stops it)")
    try:
        uvicorn.run(asgi, host=host, port=port, log_level="warning")  # type: ignore[arg-type]
    finally:
        store.close()
