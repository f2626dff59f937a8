"""A real ``python -m tracefix_rl.server`` process shared by the server tests."""

from __future__ import annotations

import pytest
from _live_server import live_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The default-configured server (capacity 256, idle timeout 600 s) on a free loopback port."""
    with live_server(tmp_path_factory.mktemp("server")) as srv:
        yield srv
