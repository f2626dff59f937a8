"""A real ``python -m tracefix_rl.server`` process shared by the server tests."""

from __future__ import annotations

import pytest
from _live_server import live_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The default-configured server (capacity 256, idle timeout 600 s) on a free loopback port, with
    the trajectory routes on (no API key: every test client is the same principal)."""
    with live_server(tmp_path_factory.mktemp("server"), "--trajectory-routes") as srv:
        yield srv
