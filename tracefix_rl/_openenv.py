"""Load ``openenv`` without its optional web UI, which it would import eagerly.

``openenv.core.env_server`` imports its Gradio web interface at import time (about two thirds of
the 6-8 s of CPU an ``import openenv.core`` costs) but carries on without it when Gradio is
missing. TraceFix-RL never mounts that interface, so importing this module loads
``openenv.core.env_server`` while ``gradio`` looks absent; the hiding ends with the import (Gradio
stays importable for anyone who wants it, and openenv still imports its web interface lazily
when asked to build one). ``ENABLE_WEB_INTERFACE=true``, or Gradio already loaded, imports
openenv as it is. The server and the client import this module before any ``openenv`` module.
"""

from __future__ import annotations

import importlib
import importlib.abc
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["load_openenv"]


class _HideGradio(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname == "gradio" or fullname.startswith("gradio."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def load_openenv() -> None:
    """Import ``openenv.core.env_server`` (once), without Gradio unless the web UI is enabled."""
    if "openenv.core.env_server" in sys.modules or "gradio" in sys.modules \
            or os.environ.get("ENABLE_WEB_INTERFACE", "").strip().lower() in ("1", "true", "yes", "on"):
        importlib.import_module("openenv.core.env_server")
        return
    finder = _HideGradio()
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("openenv.core.env_server")
    finally:
        sys.meta_path.remove(finder)


load_openenv()
