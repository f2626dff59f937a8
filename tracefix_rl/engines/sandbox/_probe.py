"""Kernel capability probe, run in a throwaway lean interpreter.

The probe forks (to test-load a seccomp filter), and the environment process is large and
multi-threaded, so it never forks itself: it runs ``python -S -s`` with the scrubbed job
environment and reads one JSON line back. The result is cached for the process lifetime.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any

from tracefix_rl.engines.sandbox._base import PACKAGE_PARENT

__all__ = ["probe_kernel"]

_CODE = (
    "import sys, os, json\n"
    "sys.path.insert(0, {parent!r})\n"
    "from tracefix_rl.engines.sandbox import _confine\n"
    "print(json.dumps({{'root': os.geteuid() == 0, 'landlock_abi': _confine.landlock_abi(),\n"
    "                  'seccomp': _confine.seccomp_available()}}))\n"
)


@functools.lru_cache(maxsize=1)
def probe_kernel() -> dict[str, Any]:
    """Return ``{"root": bool, "landlock_abi": int, "seccomp": bool}`` for this machine."""
    from tracefix_rl.engines.sandbox._subprocess import job_environment

    try:
        out = subprocess.run(
            [os.path.realpath(sys.executable), "-S", "-s", "-c", _CODE.format(parent=PACKAGE_PARENT)],
            capture_output=True, env=job_environment(), timeout=30, check=True, cwd="/",
        ).stdout
        result: dict[str, Any] = json.loads(out)
        return result
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"root": os.geteuid() == 0, "landlock_abi": 0, "seccomp": False, "probe_error": str(exc)}
