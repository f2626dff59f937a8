"""Two real GRPOTrainer steps on CPU with TraceFix-RL as the environment (in-process and remote).

The model is a tiny randomly initialised Qwen3 and generation is scripted (``model.generate`` is
patched, as TRL's own ``test_train_with_environment_factory`` does), so what runs for real is
TRL's prompt building, tool-call parsing, tool loop, tool masks, reward columns, loss and
optimizer, and TraceFix-RL's environment, sandbox and trajectory store.
"""

from __future__ import annotations

import json
from unittest.mock import patch

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from _tiny_lm import tiny_model, tiny_tokenizer  # noqa: E402

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment  # noqa: E402
from tracefix_rl.data.trajectories import TrajectoryStore  # noqa: E402
from tracefix_rl.integrations.tools import TOOL_NAMES  # noqa: E402
from tracefix_rl.integrations.trl import make_dataset, make_env_factory, resolved_reward  # noqa: E402

TASK = "binary_search_off_by_one"
FIX = {"start_line": 3, "end_line": 3, "new_code": "right = len(arr) - 1"}
PARTIAL = {"start_line": 3, "end_line": 3, "new_code": "right = min(len(arr), 4)"}
# rollout -> one tool call per turn; after the last turn the model says "Done." Every script has
# four turns, so each rollout keeps its row in every generate call.
SCRIPTS = [
    [("run_tests", {}), ("replace_lines", FIX), ("run_tests", {}), ("submit", {})],
    [("view_code", {}), ("replace_lines", FIX), ("submit", {}), ("run_tests", {})],  # a call after the end
    [("run_tests", {}), ("replace_lines", PARTIAL), ("run_tests", {}), ("submit", {})],
    [("run_tests", {}), ("delete_tests", {}), ("view_code", {}), ("submit", {})],  # a tool that does not exist
]
FAILED_CALLS = 2 / 16  # per group: the call after the end (raises) and the unknown tool


def _expected_scores() -> list[tuple[float, bool]]:
    """Each script played directly on the environment: the scores TRL's rewards must equal."""
    env = TraceFixEnvironment(EnvConfig())
    out = []
    for script in SCRIPTS:
        obs = env.reset(task_name=TASK, seed=0)
        for name, args in script:
            if name == "delete_tests" or obs.done:
                continue
            kwargs = {"start_line": args["start_line"], "end_line": args["end_line"],
                      "new_code_block": args["new_code"]} if args else {}
            obs = env.step(CodeAction(action_type=name.upper(), **kwargs))
        out.append((obs.final_score, obs.resolved))
    return out


def _fake_generate(tokenizer):
    def generate(input_ids, attention_mask=None, **_):
        rows = []
        for i, ids in enumerate(input_ids.tolist()):
            turn = tokenizer.decode(ids).count("<tool_response>")
            script = SCRIPTS[i % len(SCRIPTS)]
            if turn < len(script):
                name, args = script[turn]
                text = "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call><|im_end|>"
            else:
                text = "Done.<|im_end|>"
            rows.append(ids + tokenizer.encode(text, add_special_tokens=False))
        width = max(len(r) for r in rows)
        return torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    return generate


def _train(tmp_path, factory):
    from trl import GRPOConfig, GRPOTrainer

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=4096, max_steps=2, learning_rate=0.1, report_to="none",
                      use_cpu=True, save_strategy="no", logging_steps=1, max_tool_calling_iterations=4,
                      seed=0, dataloader_num_workers=0)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=args, environment_factory=factory,
                          reward_funcs=[resolved_reward],
                          train_dataset=make_dataset(tasks=[TASK], seeds=[0, 0]))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    with patch.object(trainer.model, "generate", side_effect=_fake_generate(tokenizer)):
        trainer.train()
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(before[n], p)]
    return trainer, changed, len(before)


def _check(trainer, changed, n_params, expected):
    assert sorted(t.__name__ for t in trainer.tools) == sorted(TOOL_NAMES)
    assert trainer.reward_func_names == ["resolved_reward", "TraceFixToolEnv"]
    logs = [entry for entry in trainer.state.log_history if "rewards/TraceFixToolEnv/mean" in entry]
    assert len(logs) == 2
    mean_score = sum(s for s, _ in expected) / len(expected)
    mean_resolved = sum(1.0 for _, r in expected if r) / len(expected)
    for entry in logs:
        assert entry["rewards/TraceFixToolEnv/mean"] == pytest.approx(mean_score, abs=1e-6)
        assert entry["rewards/resolved_reward/mean"] == pytest.approx(mean_resolved, abs=1e-6)
        assert entry["tools/call_frequency"] > 0
        assert entry["tools/failure_frequency"] == pytest.approx(FAILED_CALLS)
    envs = trainer._environment_pool[None]
    assert sorted((e.final_score, e.resolved) for e in envs) == sorted(expected)
    assert len(changed) == n_params, f"only {len(changed)}/{n_params} parameter tensors changed"


def test_two_grpo_steps_in_process_record_every_rollout(tmp_path):
    expected = _expected_scores()
    assert len({s for s, _ in expected}) == 4  # rewards vary inside the group, so GRPO has a signal
    db = tmp_path / "run" / "trajectories.sqlite3"
    trainer, changed, n = _train(tmp_path, make_env_factory(db=str(db), max_output_chars=600))
    _check(trainer, changed, n, expected)
    with TrajectoryStore(db) as store:
        episodes = store.list_episodes(limit=None)
        assert len(episodes) == 8  # 2 steps x 4 rollouts, every one recorded into this run's store
        assert sorted(e["final_score"] for e in episodes) == sorted(s for s, _ in expected * 2)
        actions = sorted(tuple(a["action_type"] for a in store.get_replay_actions(e["episode_id"]))
                         for e in episodes)
    assert ("RUN_TESTS", "REPLACE_LINES", "RUN_TESTS", "SUBMIT") in actions  # the call after SUBMIT never ran
    assert ("VIEW_CODE", "REPLACE_LINES", "SUBMIT") in actions and ("RUN_TESTS", "VIEW_CODE", "SUBMIT") in actions


def test_two_grpo_steps_against_a_live_server(tmp_path, tracefix_server):
    expected = _expected_scores()
    trainer, changed, n = _train(tmp_path, make_env_factory(base_url=tracefix_server.url, max_output_chars=600))
    _check(trainer, changed, n, expected)
    # the server recorded every rollout (this test's episodes are the seed-0 ones of the task)
    episodes = [e for e in tracefix_server.get(f"/episodes?limit=1000&task={TASK}") if e["seed"] == 0]
    assert sorted(e["final_score"] for e in episodes) == sorted(s for s, _ in expected * 2)
    assert tracefix_server.get("/sessions")["active"] == 0  # each finished episode closed its session
