"""TraceFix-RL: an RL environment in which language-model agents debug Python programs.

Public names load on first use (PEP 562), so ``import tracefix_rl`` costs almost nothing and
the sandbox child can import :mod:`tracefix_rl.engines.sandbox` without pydantic. The client, which
needs ``openenv``, loads only when ``TraceFixRLEnv`` is first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tracefix_rl._version import __version__

if TYPE_CHECKING:
    from tracefix_rl.client import TraceFixRLEnv
    from tracefix_rl.core.config import EnvConfig, RewardConfig
    from tracefix_rl.core.models import CodeAction, CodeObservation, EpisodeState, TestResult
    from tracefix_rl.env import TraceFixEnvironment

__all__ = [
    "CodeAction",
    "CodeObservation",
    "EnvConfig",
    "EpisodeState",
    "RewardConfig",
    "TestResult",
    "TraceFixEnvironment",
    "TraceFixRLEnv",
    "__version__",
]

_LAZY = {
    "CodeAction": "tracefix_rl.core.models",
    "CodeObservation": "tracefix_rl.core.models",
    "EpisodeState": "tracefix_rl.core.models",
    "TestResult": "tracefix_rl.core.models",
    "EnvConfig": "tracefix_rl.core.config",
    "RewardConfig": "tracefix_rl.core.config",
    "TraceFixEnvironment": "tracefix_rl.env",
    "TraceFixRLEnv": "tracefix_rl.client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracefix_rl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
