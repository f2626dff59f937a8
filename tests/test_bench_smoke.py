"""Smoke test of the benchmark suite: ``bench/run_all.py --quick`` works and reports every figure.

Checks structure only (every required figure and target is present and numeric); no timing is
asserted. Deselect with ``-m "not bench"``; it takes about two minutes on idle cores, and took
10.5 minutes on 2 cores shared with other work (the timeout is a hang guard, not a target).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ["VIEW_CODE", "REPLACE_LINES", "UNDO_EDIT", "RUN_TESTS", "TRACE", "SUBMIT"]


def _num(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


@pytest.mark.bench
def test_run_all_quick_reports_every_figure(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--out-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    assert report["quick"] is True
    assert {"cores", "python", "kernel"} <= set(report["machine"])
    assert report["isolation"]
    assert all(s["ok"] for s in report["benchmarks_run"].values())
    h = report["headline"]

    assert _num(h["reset_ms"]["median_ms"]) and _num(h["reset_ms"]["p99_ms"])
    for action in ACTIONS:
        step = h["in_process_step_ms"][action]
        assert _num(step["median_ms"]) and _num(step["p99_ms"]) and step["n"] > 0
        for sessions in ("1", "16"):
            assert _num(h["websocket_step_ms"][sessions][action]["ratio_vs_echo"])
    for sessions in ("1", "16"):
        assert _num(h["websocket_step_ms"][sessions]["echo"]["median_ms"])
        assert _num(h["websocket_step_ms"][sessions]["VIEW_CODE, recording off"]["ratio_vs_echo"])
    for runner in ("forkserver", "subprocess", "python -S -I", "pytest"):
        assert _num(h["run_tests_job_ms"][runner]["ratio_vs_forkserver"])
    assert _num(h["run_tests_throughput"]["forkserver"]["per_minute"])
    assert _num(h["scripted_episodes_per_minute"])
    assert _num(h["tracing"]["ratio_vs_untraced"])
    assert {r["recording"] for r in h["recording_overhead"]} == {"none", "sqlite NORMAL", "sqlite FULL"}
    assert all(_num(r["replay_steps_per_s"]) for r in h["replay"])
    mem = h["memory_per_idle_session_mb"]
    assert _num(mem["server_rss_mb_per_session"]) and _num(mem["tree_pss_mb_per_session"])

    table = {r["figure"]: r for r in report["table"]}
    for prefix in ("one RUN_TESTS through the environment, recording on", "plain `python -m pytest`",
                   "CPU per sandbox job", "isolated runs per minute", "CPU of one recorded REPLACE_LINES step",
                   "REPLACE_LINES on a 2,504-line program, recording off", "16 callers on",
                   "recording's cost in throughput", "VIEW_CODE over WebSocket, recording on (1 session)",
                   "task build"):
        row = next((r for name, r in table.items() if name.startswith(prefix)), None)
        assert row is not None and _num(row["now"]), prefix
    assert all(r["met"] in (True, False, None) for r in table.values())

    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:  # the pool against in-process, same run
        ray_pool = h["ray_pool"]
        assert [r["where"] for r in ray_pool["episodes"]] == ["this process", "this process", "actors"]
        assert all(_num(r["episodes_per_minute"]) and _num(r["ratio_vs_in_process"]) for r in ray_pool["episodes"])
        assert {r["action"] for r in ray_pool["step_latency"]} == {"VIEW_CODE", "RUN_TESTS"}
        assert all(_num(r["ratio_pool_vs_in_process"]) for r in ray_pool["step_latency"])

    fair = h["fairness_under_hostile_sessions"]
    assert _num(fair["throughput_ratio"]) and _num(fair["baseline_jobs_per_s"])
    assert [r["callers"] for r in h["callers_beyond_workers"]] == [4, 8, 16]
    assert all(_num(r["worst_wait_x_median_job"]) for r in h["callers_beyond_workers"])

    fz, sk = h["fuzz"], h["soak"]
    assert fz["ws_messages"] > 0 and fz["http_requests"] > 0
    assert sk["steps"] > 0 and sk["integrity_check"] == "ok" and _num(sk["rss_growth_after_warmup_pct"])
    assert _num(sk["db_bytes_per_step"]) and _num(sk["observation_bytes_per_step"])

    assert _num(h["recording_cost"][0]["recording_cost_pct"])

    rates = {(r["agent"], r["workers"]): r for r in h["eval_episodes_per_minute"]}
    assert {w for a, w in rates if a == "scripted model"} == {1, 2, 4}
    assert all(_num(r["episodes_per_minute"]) for r in rates.values())

    assert len(report["targets"]) == 21
    for t in report["targets"]:
        assert _num(t["measured"]) and isinstance(t["met"], bool)
        assert _num(t["ratio_to_target"]) or t["threshold"] == 0
    viewer = {r["case"]: r for r in h["viewer"]["rows"]}
    assert _num(viewer["episode page, 200 steps (HTTP)"]["ratio_vs_store_read"])
    assert sum(case.startswith("list,") for case in viewer) == 5
