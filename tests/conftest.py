"""Shared fixtures: every test records trajectories into its own temporary database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_trajectory_db(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACEFIX_DB", str(tmp_path / "trajectories.sqlite3"))
