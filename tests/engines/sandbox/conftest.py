"""Shared fixtures for the sandbox tests: the real shared sandbox and a job runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tracefix_rl.engines.sandbox import Execution, Limits, get_sandbox

Runner = Callable[..., Execution]


@pytest.fixture(scope="session")
def sandbox() -> Any:
    """The process-wide sandbox the environment uses (must be the fork-server pool)."""
    sb = get_sandbox()
    assert sb.isolation.startswith("forkserver+landlock+seccomp"), sb.isolation
    return sb


@pytest.fixture(scope="session")
def run(sandbox: Any) -> Runner:
    """``run(source, *calls, limits=Limits(), setup="")`` runs the test driver on ``source``."""

    def _run(source: str, *calls: str, limits: Limits | None = None, setup: str = "", **payload: Any) -> Execution:
        tests = [{"name": f"t{i}", "setup": setup, "call": call} for i, call in enumerate(calls)]
        return sandbox.execute("tests", {"source": source, "tests": tests, **payload}, limits or Limits())

    return _run

