"""The example scripts run as they are (on CPU, with a tiny local model standing in for a hub model)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from _tiny_lm import tiny_model, tiny_tokenizer  # noqa: E402

from tracefix_rl.data.trajectories import TrajectoryStore  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(path)
    tiny_model(tokenizer).save_pretrained(path)
    return str(path)


def test_grpo_example_trains_and_records_its_rollouts(model_dir, tmp_path):
    out = tmp_path / "grpo"
    _load("trl_grpo").main(["--model", model_dir, "--output-dir", str(out), "--tiers", "easy", "--seeds", "1",
                            "--num-generations", "2", "--per-device-batch", "2", "--max-completion-length", "24",
                            "--max-steps", "1", "--no-vllm", "--use-cpu"])
    assert (out / "model" / "model.safetensors").exists()
    with TrajectoryStore(out / "trajectories.sqlite3") as store:
        assert store.count_episodes() == 2  # one group of two rollouts, each an episode in the run's store


def test_sft_example_trains_on_an_export(model_dir, tmp_path):
    from typer.testing import CliRunner

    from tracefix_rl import TraceFixEnvironment
    from tracefix_rl.agents import oracle_actions
    from tracefix_rl.cli.main import app
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env import RecordEpisodes

    db = tmp_path / "t.sqlite3"
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig()), SQLiteRecorder(db))
    env.reset(task_name="task1_easy", seed=0)
    for action in oracle_actions(env.task, trace=False):
        env.step(action)
    data = tmp_path / "sft.parquet"
    result = CliRunner().invoke(app, ["trajectories", "export", str(data), "--db", str(db), "--format", "sft",
                                      "--resolved-only"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "sft"
    _load("trl_sft").main(["--data", str(data), "--model", model_dir, "--output-dir", str(out), "--max-steps", "1",
                           "--per-device-batch", "1", "--use-cpu"])
    assert (out / "model.safetensors").exists()
