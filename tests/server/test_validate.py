"""``openenv validate``: the static manifest check in the repo, and the runtime probe of the server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from _live_server import ROOT


def _openenv() -> list[str]:
    exe = Path(sys.executable).with_name("openenv")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("openenv")
    return [found] if found else [sys.executable, "-m", "openenv.cli"]


def _validate(*args: str, cwd: Path = ROOT) -> dict:
    proc = subprocess.run([*_openenv(), "validate", *args, "--json"], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_static_validation_passes(tmp_path):
    # The validator hashes the whole package tree before and after and fails if anything changed,
    # so validate a snapshot of the deployment files rather than a checkout others may be writing to.
    snap = tmp_path / "repo"
    snap.mkdir()
    for name in ("openenv.yaml", "pyproject.toml", "uv.lock", "Dockerfile", "README.md", "inference.py"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, snap / name)
    shutil.copytree(ROOT / "server", snap / "server", ignore=shutil.ignore_patterns("__pycache__"))
    report = _validate("--level", "static", "--skip-build", cwd=snap)
    assert report["verdict"] == "pass", report
    assert all(r.get("status", "").lower() != "fail" for r in report["results"]), report["results"]


def test_legacy_deployment_checks_pass():
    from openenv.cli._validation import validate_multi_mode_deployment

    ok, issues = validate_multi_mode_deployment(ROOT)
    assert ok, issues


def test_runtime_validation_against_the_running_server(server):
    report = _validate("--url", server.url)
    assert report["passed"] is True, report
    assert {c["id"] for c in report["criteria"]} >= {"health_endpoint", "metadata_endpoint", "schema_endpoint",
                                                      "mcp_endpoint", "mode_endpoint_consistency"}
    assert all(c["passed"] for c in report["criteria"]), report["criteria"]
