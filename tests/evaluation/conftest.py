"""Fixtures of the evaluation tests: the scripted OpenAI-compatible model and a real server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))

from _live_server import live_server  # noqa: E402
from scripted_model_server import model_server  # noqa: E402,F401 - a fixture


@pytest.fixture(scope="session")
def env_server(tmp_path_factory):
    """A real TraceFix-RL server on a free loopback port, recording its episodes."""
    with live_server(tmp_path_factory.mktemp("eval-env"), "--trajectory-routes") as srv:
        yield srv
