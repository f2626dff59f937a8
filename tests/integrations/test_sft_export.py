"""``tracefix trajectories export --format sft|mini-swe-agent``: the text is what the agent saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
from tracefix_rl.agents import oracle_actions
from tracefix_rl.cli.main import app
from tracefix_rl.data.trajectories import SQLiteRecorder, TrajectoryStore
from tracefix_rl.env import RecordEpisodes
from tracefix_rl.integrations.text_env import TraceFixTextEnv
from tracefix_rl.integrations.tools import TOOL_SCHEMAS
from tracefix_rl.integrations.trl import make_env_factory

runner = CliRunner()
ORACLE_TASKS = ("binary_search_off_by_one", "task1_easy")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Two oracle episodes (resolved), one clumsy unresolved one with an invalid REPLACE_LINES."""
    db = tmp_path_factory.mktemp("sft") / "t.sqlite3"
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig()), SQLiteRecorder(db))
    for name in ORACLE_TASKS:
        env.reset(task_name=name, seed=0)
        for action in oracle_actions(env.task):
            env.step(action)
    env.reset(task_name="task3_hard", seed=1)
    for action in (CodeAction(action_type="RUN_TESTS"), CodeAction(action_type="REPLACE_LINES", start_line=1),
                   CodeAction(action_type="TRACE", trace_format="cwm"), CodeAction(action_type="SUBMIT")):
        env.step(action)
    return db


def _export(db: Path, out: Path, *args: str) -> tuple[int, str, list[dict]]:
    result = runner.invoke(app, ["trajectories", "export", str(out), "--db", str(db), *args])
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.suffix == ".jsonl" else []
    return result.exit_code, " ".join(result.output.split()), rows  # Rich wraps long lines


def test_tools_rows_show_exactly_what_trace_fix_tool_env_returns(store, tmp_path):
    code, output, rows = _export(store, tmp_path / "sft.jsonl", "--format", "sft")
    assert code == 0, output
    assert "exported 2 episode(s)" in output and "1 skipped" in output  # REPLACE_LINES without a block
    assert "cannot be expressed as a replace_lines call" in output
    for row in rows:
        assert row["schema"] == "tracefix-sft/1" and row["style"] == "tools" and row["tools"] == TOOL_SCHEMAS
        assert row["resolved"] is True and row["end_reason"] == "submitted" and 0.9 < row["final_score"] < 1
        messages = row["messages"]
        assert [m["role"] for m in messages[:2]] == ["system", "user"]
        assert len(messages) == 2 + 2 * row["num_steps"]
        # play the same tool calls through the TRL environment: every text must be identical
        env = make_env_factory(record=False)()
        assert messages[1]["content"].endswith(env.reset(task_name=row["task_name"], seed=row["seed"]))
        for call, result in zip(messages[2::2], messages[3::2], strict=True):
            assert call["role"] == "assistant" and result["role"] == "tool"
            fn = call["tool_calls"][0]["function"]
            assert isinstance(fn["arguments"], dict) and result["name"] == fn["name"]
            assert result["content"] == getattr(env, fn["name"])(**fn["arguments"])
        assert env.final_score == row["final_score"]


def test_json_rows_show_exactly_what_the_inference_loop_showed(store, tmp_path):
    code, output, rows = _export(store, tmp_path / "sft.jsonl", "--format", "sft", "--style", "json")
    assert code == 0 and len(rows) == 3, output
    for row in rows:
        assert row["tools"] == [] and row["messages"][0]["content"].startswith("You are debugging")
        env = TraceFixTextEnv(record=False, task_name=row["task_name"])
        assert row["messages"][1]["content"] == env.reset(seed=row["seed"])[0]
        replies, shown = row["messages"][2::2], row["messages"][3::2]
        assert len(replies) == row["num_steps"] and len(shown) == row["num_steps"] - 1  # last one never read
        for reply, text in zip(replies, [*shown, None], strict=True):
            out = env.step(reply["content"])[0]
            assert text is None or text["content"] == out
        assert env.observation.final_score == row["final_score"]
    assert [r["resolved"] for r in rows] == [True, True, False]


def test_filters_resolved_only_and_min_score(store, tmp_path):
    code, output, rows = _export(store, tmp_path / "a.jsonl", "--format", "sft", "--style", "json",
                                 "--resolved-only")
    assert code == 0 and {r["task_name"] for r in rows} == {"binary_search_off_by_one",
                                                            "reverse_string_returns_original"}
    assert "1 filtered out" in output
    code, output, rows = _export(store, tmp_path / "b.jsonl", "--format", "sft", "--style", "json",
                                 "--min-score", "0.95")
    assert code == 0 and all(r["final_score"] >= 0.95 for r in rows) and len(rows) < 3


def test_openai_style_string_arguments(store, tmp_path):
    _, _, rows = _export(store, tmp_path / "s.jsonl", "--format", "sft", "--arguments", "string")
    calls = [m["tool_calls"][0]["function"] for m in rows[0]["messages"] if m["role"] == "assistant"]
    assert all(isinstance(c["arguments"], str) for c in calls)
    assert {"start_line", "end_line", "new_code"} <= set(json.loads(
        next(c for c in calls if c["name"] == "replace_lines")["arguments"]))


def test_diverged_episodes_are_refused_and_the_rest_exported(store, tmp_path):
    import sqlite3

    db = tmp_path / "tampered.sqlite3"
    with sqlite3.connect(store) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # the store is in WAL mode: copy it through SQLite, not the file system
    conn = sqlite3.connect(db)
    with conn:
        eid = conn.execute("SELECT episode_id FROM episodes WHERE task_name='binary_search_off_by_one'").fetchone()[0]
        action = json.loads(conn.execute("SELECT action FROM steps WHERE episode_id=? AND action_type="
                                          "'REPLACE_LINES'", (eid,)).fetchone()[0])
        action["new_code_block"] = "    right = len(arr) - 2"
        conn.execute("UPDATE steps SET action=? WHERE episode_id=? AND action_type='REPLACE_LINES'",
                      (json.dumps(action), eid))
        # as a store without full observations (schema 1): the export must regenerate them by replay
        conn.execute("UPDATE steps SET observation=NULL WHERE episode_id=?", (eid,))
    conn.close()
    code, output, rows = _export(db, tmp_path / "t.jsonl", "--format", "sft", "--style", "json")
    assert code == 1
    assert f"refused {eid}: replay diverged at step" in output
    assert len(rows) == 2 and eid not in {r["episode_id"] for r in rows}


def test_jsonl_and_parquet_load_in_datasets_with_messages_intact(store, tmp_path):
    datasets = pytest.importorskip("datasets")
    _, _, rows = _export(store, tmp_path / "x.jsonl", "--format", "sft")
    code, output, _ = _export(store, tmp_path / "x.parquet", "--format", "sft")
    assert code == 0, output
    for kind, path in (("json", tmp_path / "x.jsonl"), ("parquet", tmp_path / "x.parquet")):
        ds = datasets.load_dataset(kind, data_files=str(path), split="train")
        assert len(ds) == 2 and ds[0]["messages"] == rows[0]["messages"] and ds[0]["tools"] == TOOL_SCHEMAS
        assert ds[1]["final_score"] == rows[1]["final_score"]


def test_mini_swe_agent_trajectories(store, tmp_path):
    out = tmp_path / "mini"
    result = runner.invoke(app, ["trajectories", "export", str(out), "--db", str(store), "--format",
                                 "mini-swe-agent"])
    assert result.exit_code == 0, result.output
    preds = json.loads((out / "preds.json").read_text())
    assert len(preds) == 3
    with TrajectoryStore(store) as s:
        fixed = next(e["episode_id"] for e in s.list_episodes() if e["task_name"] == "binary_search_off_by_one")
    traj = json.loads((out / fixed / f"{fixed}.traj.json").read_text())
    assert traj["trajectory_format"] == "mini-swe-agent-1.1" and traj["instance_id"] == fixed
    assert traj["info"]["exit_status"] == "Submitted" and traj["info"]["resolved"] is True
    assert "-    right = len(arr)\n+    right = len(arr) - 1\n" in traj["info"]["submission"]
    assert preds[fixed]["model_patch"] == traj["info"]["submission"]
    roles = [m["role"] for m in traj["messages"]]
    assert roles[:3] == ["system", "user", "assistant"] and roles[-1] == "assistant"
    assert traj["messages"][2]["extra"]["actions"][0]["command"].startswith('{"thought":')
    assert traj["messages"][3]["content"].startswith("<returncode>0</returncode>\n<output>\n")
    assert traj["messages"][-1]["extra"]["exit_status"] == "Submitted"


def test_one_sft_trainer_step_trains_only_on_assistant_tokens(store, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("trl")
    import datasets
    from _tiny_lm import tiny_model, tiny_tokenizer
    from trl import SFTConfig, SFTTrainer

    _export(store, tmp_path / "sft.jsonl", "--format", "sft")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "sft.jsonl"), split="train")
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=ds, args=SFTConfig(
        output_dir=str(tmp_path / "out"), assistant_only_loss=True, max_steps=1, per_device_train_batch_size=1,
        max_length=None, learning_rate=0.1, report_to="none", use_cpu=True, save_strategy="no",
        logging_steps=1, dataloader_num_workers=0))
    example = trainer.train_dataset[0]
    batch = trainer.data_collator([example])
    labels, ids = batch["labels"][0], batch["input_ids"][0]
    trained = labels != -100
    assert 0 < int(trained.sum()) < len(ids) // 4
    text = tokenizer.decode(ids[trained])
    assert text.count("<tool_call>") == ds[0]["num_steps"]
    assert "Read the program first." in text  # the assistant's thought
    assert "Tests Passed" not in text and "You are debugging" not in text  # tool output, system prompt
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    assert torch.isfinite(torch.tensor(trainer.state.log_history[0]["loss"]))
    assert any(not torch.equal(before[n], p) for n, p in trainer.model.named_parameters())


def test_unusable_output_paths_are_clear_errors(store, tmp_path):
    (tmp_path / "taken").write_text("a file")
    for target, fmt in ((tmp_path, "sft"), (tmp_path / "taken", "mini-swe-agent")):
        code, output, _ = _export(store, target, "--format", fmt)
        assert code == 2 and output.startswith("error: ") and "Traceback" not in output
