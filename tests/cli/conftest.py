"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty directory, recording into its default store (./.tracefix/)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACEFIX_DB", raising=False)
    monkeypatch.delenv("TRACEFIX_RECORD", raising=False)
    return tmp_path
