"""verifiers end to end (opt-in): ``vf-eval`` drives a live server, scored by TraceFix-RL's final score.

verifiers pins ``mcp`` 2.0, which cannot share a virtualenv with our server extra (openenv 0.10),
so this test runs ``vf-eval`` from a separate virtualenv named by ``TRACEFIX_VERIFIERS_VENV``
(``./run test-verifiers`` builds ``.venv-verifiers`` and runs it). Without the variable it is
skipped. The model is a scripted streaming OpenAI-compatible server on loopback; the null harness
runs its chat program with ``uv`` in the subprocess runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.verifiers

VENV = os.environ.get("TRACEFIX_VERIFIERS_VENV")
PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "verifiers"


@pytest.mark.skipif(not VENV, reason="set TRACEFIX_VERIFIERS_VENV to a verifiers>=0.4 venv (./run test-verifiers)")
def test_vf_eval_scores_rollouts_by_the_final_score(tmp_path, tracefix_server):
    from _streaming_model import serve

    model, port = serve()
    config = tmp_path / "run.toml"
    config.write_text((PLUGIN / "tracefix.toml").read_text()
                      .replace('model = "Qwen/Qwen3-0.6B"', f'model = "scripted"\noutput_dir = "{tmp_path}/out"')
                      .replace("http://127.0.0.1:8000/v1", f"http://127.0.0.1:{port}/v1")
                      .replace("http://127.0.0.1:7860", tracefix_server.url))
    env = {**os.environ, "PYTHONPATH": str(PLUGIN), "OPENAI_API_KEY": "unused"}
    try:
        result = subprocess.run([str(Path(VENV) / "bin" / "vf-eval"), "@", str(config)], env=env,
                                capture_output=True, text=True, timeout=900)
    finally:
        model.shutdown()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    traces = [t for line in next((tmp_path / "out").rglob("traces.jsonl")).read_text().splitlines()
              for t in json.loads(line)["traces"]]
    assert len(traces) == 6  # 3 resets x num_rollouts 2
    for trace in traces:
        assert trace["ok"] and trace["stop_condition"] == "user_closed"
        record = tracefix_server.get(f"/trajectories/{trace['info']['tracefix_episode_id']}")
        assert trace["rewards"]["final_score"] == {"score": record["final_score"], "weight": 1.0}
        assert trace["rewards"]["openenv_reward"]["weight"] == 0.0  # the step-reward sum does not count
        assert trace["rewards"]["openenv_reward"]["score"] == pytest.approx(record["cumulative_reward"])
        assert trace["metrics"]["resolved"] == 1.0 and 0.9 < record["final_score"] < 1
