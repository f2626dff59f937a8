"""One episode, four reporters: ``inference.py``'s [END] line, the server's trajectory store, the
graders and a replay all say the same ``resolved`` and the same final score."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _live_server import ROOT, live_server
from test_inference_e2e import parse_episodes

from tracefix_rl import graders
from tracefix_rl.data.trajectories import TrajectoryStore
from tracefix_rl.env.replay import replay


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own, so its store holds only this module's episodes."""
    with live_server(tmp_path_factory.mktemp("resolved"), startup_s=180) as srv:
        yield srv


@pytest.mark.parametrize(("model", "expect_resolved"), [("scripted-fix", True), ("scripted-garbage", False)])
def test_inference_store_graders_and_replay_agree(server, model_server, model, expect_resolved):
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_IMAGE_NAME", "IMAGE_NAME", "API_KEY")}
    env.update({"API_BASE_URL": model_server.base_url, "MODEL_NAME": model, "HF_TOKEN": "t",
                "ENV_BASE_URL": server.url, "MAX_STEPS": "6"})
    proc = subprocess.run([sys.executable, str(ROOT / "inference.py"), "--medium"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (end,) = parse_episodes(proc.stdout, model)
    store = TrajectoryStore(server.db)
    summary = store.list_episodes(limit=1)[0]  # newest first: this run's episode
    record = store.load_episode(summary["episode_id"])
    last = store.get_observation(summary["episode_id"], max(s["step"] for s in record["steps"]))
    assert last.done and last.resolved is expect_resolved
    assert end["success"] is expect_resolved
    assert end["score"] == round(last.final_score, 2)
    graded = graders.grade_report(record)
    assert graded.resolved is expect_resolved and graded.score == pytest.approx(last.final_score)
    report = replay(summary["episode_id"], db=server.db)
    assert report.verified, report.summary()
