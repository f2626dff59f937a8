"""Repository-root entry point expected by ``openenv validate`` (and ``app: server.app:app``).

The server itself is :mod:`tracefix_rl.server.app`; this file only forwards to it.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """Run the TraceFix-RL server (``--host``, ``--port``; ``PORT`` honoured, default 7860)."""
    from tracefix_rl.server.app import main as _main

    _main()


def __getattr__(name: str) -> Any:
    if name == "app":
        from tracefix_rl.server import app as _app_module

        return _app_module.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
