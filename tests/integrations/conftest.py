"""Integration tests: every heavy library is optional and its tests skip without it."""

from __future__ import annotations

import os

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tracefix_server(tmp_path_factory):
    """One real TraceFix-RL server for the remote-mode tests of this directory."""
    pytest.importorskip("openenv")
    from _live_server import live_server

    with live_server(tmp_path_factory.mktemp("integrations-server")) as srv:
        yield srv
