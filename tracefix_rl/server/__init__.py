"""The OpenEnv server adapter (the only server-side code that imports ``openenv``).

``create_app`` and ``main`` load :mod:`tracefix_rl.server.app` on first use, so importing this
package costs nothing until the server is actually built.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_app", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tracefix_rl.server.app"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
