"""Export/import: JSONL and Parquet round trips replay VERIFIED and load in pandas/datasets."""

from __future__ import annotations

import json

import pytest
from _helpers import CHEAP, run_episode

from tracefix_rl.core.errors import TrajectoryError
from tracefix_rl.data.trajectories import SQLiteRecorder, export_episodes, import_episodes, read_records
from tracefix_rl.env.replay import replay, replay_record


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with three finished episodes on two tasks (one with security flags)."""
    rec = SQLiteRecorder(tmp_path_factory.mktemp("export") / "src.sqlite3")
    for i, task in enumerate(["binary_search_off_by_one", "factorial_off_by_one", "binary_search_off_by_one"]):
        run_episode(rec, task, seed=i, policy_seed=100 + i, max_steps=25, weights=CHEAP)
    return rec


def test_jsonl_round_trip_replays_verified(store, tmp_path):
    out = tmp_path / "eps.jsonl"
    assert export_episodes(store, out) == 3
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["schema"] == "tracefix-episode/2"
    for key in ("episode_id", "task", "reward", "done", "manifest", "steps", "final_score"):
        assert key in first
    step = first["steps"][0]
    assert set(step["action"]) >= {"thought", "new_code_block", "action_type"}
    assert isinstance(step["reward_breakdown"], list)

    dest = SQLiteRecorder(tmp_path / "dest.sqlite3")
    ids = import_episodes(out, dest)
    assert ids == [json.loads(line)["episode_id"] for line in lines]
    for eid in ids:
        assert dest.load_episode(eid)["steps"] == store.load_episode(eid)["steps"]
        assert replay(eid, db=dest.path).verified
    with pytest.raises(TrajectoryError, match="already exists"):
        import_episodes(out, dest)
    assert import_episodes(out, dest, on_conflict="skip") == []
    assert len(import_episodes(out, dest, on_conflict="replace")) == 3


def test_replay_from_exported_file(store, tmp_path):
    out = tmp_path / "eps.jsonl"
    export_episodes(store, out, task="factorial_off_by_one")
    [record] = list(read_records(out))
    assert record["task_name"] == "factorial_off_by_one"
    assert replay_record(record).verified
    record["steps"][3]["observation_hash"] = "x"
    assert replay_record(record).first_divergence == 4


def test_parquet_round_trip(store, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "eps.parquet"
    assert export_episodes(store, out) == 3
    records = list(read_records(out))
    assert [r["episode_id"] for r in records] == [json.loads(x)["episode_id"] for x in _jsonl(store, tmp_path)]
    for r in records:
        assert r["steps"] == store.load_episode(r["episode_id"])["steps"]
        assert replay_record(r).verified
    dest = SQLiteRecorder(tmp_path / "dest.sqlite3")
    assert len(import_episodes(out, dest)) == 3


def _jsonl(store, tmp_path):
    out = tmp_path / "order.jsonl"
    export_episodes(store, out)
    return out.read_text().splitlines()


def test_files_load_in_pandas_and_datasets_without_custom_code(store, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    jsonl, parquet = tmp_path / "eps.jsonl", tmp_path / "eps.parquet"
    export_episodes(store, jsonl)
    export_episodes(store, parquet)
    for df in (pd.read_json(jsonl, lines=True), pd.read_parquet(parquet)):
        assert len(df) == 3 and {"episode_id", "task", "reward", "done", "steps"} <= set(df.columns)
        assert len(df["steps"][0]) == df["total_steps"][0]
    datasets = pytest.importorskip("datasets")
    for kind, path in (("json", jsonl), ("parquet", parquet)):
        ds = datasets.load_dataset(kind, data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / f"hf-{kind}"))
        assert ds.num_rows == 3 and len(ds[0]["steps"]) == ds[0]["total_steps"]


def test_parquet_without_pyarrow_fails_clearly(store, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError("no pyarrow here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(TrajectoryError, match="pip install"):
        export_episodes(store, tmp_path / "x.parquet")


def test_bad_files_raise_trajectory_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(TrajectoryError, match="not JSON"):
        list(read_records(bad))
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(TrajectoryError, match="not a TraceFix-RL episode"):
        list(read_records(bad))
