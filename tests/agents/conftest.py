"""The real server process and the scripted OpenAI-compatible model server for the agent tests."""

from __future__ import annotations

import pytest
from _live_server import live_server
from scripted_model_server import model_server  # noqa: F401 - a fixture


@pytest.fixture(scope="session")
def env_server(tmp_path_factory):
    """A real TraceFix-RL server on a free loopback port."""
    with live_server(tmp_path_factory.mktemp("agent-env")) as srv:
        yield srv
