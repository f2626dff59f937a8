"""Task packs (format, loading, TaskSource), the build, and the ``tracefix tasks`` pack commands."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tracefix_rl.core.errors import TaskError, UnknownTaskError
from tracefix_rl.data.tasks import DIFFICULTIES, Task, builtin_tasks
from tracefix_rl.data.tasks._build import build_tasks
from tracefix_rl.data.tasks._corpus import corpus_programs
from tracefix_rl.data.tasks._pack import PACK_SCHEMA_VERSION, open_pack, read_pack, tasks_hash, write_pack
from tracefix_rl.data.tasks._source import TaskSource, open_task_source

SMALL = ("gcd_recursive", "rotate_list", "roman_numerals", "bank_account", "fibonacci_gen")


@pytest.fixture(scope="module")
def built():
    programs = [p for p in corpus_programs() if p.name in SMALL]
    return build_tasks(programs, target=20, seed=1, workers=3)


def _tasks() -> list[Task]:
    bank = builtin_tasks()
    names = ["binary_search_off_by_one", "factorial_off_by_one", "lru_cache_wrong_eviction", "fizzbuzz_wrong_order",
             "dijkstra_wrong_priority", "caesar_cipher_no_wrap"]
    return [bank[n] for n in names]


@pytest.mark.parametrize("suffix", [".jsonl", "", ".parquet"])
def test_pack_round_trip_in_every_format(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    tasks = _tasks()
    path = write_pack(tasks, tmp_path / f"pack{suffix}", name="demo", meta={"k": 1})
    header, loaded = read_pack(path)
    assert [t.content_hash for t in loaded] == [t.content_hash for t in tasks]
    assert header["tracefix_pack"] == PACK_SCHEMA_VERSION and header["count"] == len(tasks)
    assert header["name"] == "demo" and header["meta"] == {"k": 1}
    assert header["tasks_hash"] == tasks_hash(tasks)
    assert sum(header["counts"].values()) == len(tasks) and set(header["counts"]) == set(DIFFICULTIES)


def test_directory_pack_of_toml_and_jsonl_files_without_manifest(tmp_path):
    from tracefix_rl.data.tasks._registry import BUILTIN_DIR

    (tmp_path / "a.toml").write_text((BUILTIN_DIR / "factorial_off_by_one.toml").read_text())
    t = builtin_tasks()["binary_search_off_by_one"]
    (tmp_path / "b.jsonl").write_text(json.dumps(t.to_dict()) + "\n")
    header, tasks = read_pack(tmp_path)
    assert header == {} and [x.name for x in tasks] == ["factorial_off_by_one", "binary_search_off_by_one"]


def test_corrupt_packs_are_rejected_with_a_reason(tmp_path):
    path = write_pack(_tasks(), tmp_path / "p.jsonl")
    lines = path.read_text().splitlines()
    (tmp_path / "short.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(TaskError, match="header says 6 tasks"):
        read_pack(tmp_path / "short.jsonl")
    edited = json.loads(lines[1])
    edited["buggy"] = edited["reference"]
    (tmp_path / "edited.jsonl").write_text("\n".join([lines[0], json.dumps(edited)] + lines[2:]) + "\n")
    with pytest.raises(TaskError, match="tasks_hash"):
        read_pack(tmp_path / "edited.jsonl")
    (tmp_path / "bad.jsonl").write_text(lines[0] + "\n{not json\n")
    with pytest.raises(TaskError, match="bad.jsonl:2"):
        read_pack(tmp_path / "bad.jsonl")
    header = json.loads(lines[0])
    header["tracefix_pack"] = 99
    (tmp_path / "future.jsonl").write_text(json.dumps(header) + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(TaskError, match="schema version 99"):
        read_pack(tmp_path / "future.jsonl")
    with pytest.raises(TaskError, match="two tasks called"):
        write_pack([_tasks()[0]] * 2, tmp_path / "dup.jsonl")
    with pytest.raises(TaskError, match="does not exist"):
        open_pack(tmp_path / "missing.jsonl")
    with pytest.raises(TaskError, match="a .jsonl file"):
        write_pack(_tasks(), tmp_path / "p.csv")


def test_open_pack_is_a_cached_task_source_with_a_pinnable_identity(tmp_path):
    path = write_pack(_tasks(), tmp_path / "p.jsonl")
    pack = open_pack(path)
    assert isinstance(pack, TaskSource)
    assert open_pack(str(path)) is pack and open_task_source(str(path)) is pack
    assert pack.identity.startswith(str(path.resolve()) + "#")
    assert open_pack(pack.identity) is pack
    with pytest.raises(TaskError, match="changed"):
        open_pack(f"{path}#0000000000")
    assert len(pack) == 6 and pack.get("task2_medium").name == "binary_search_off_by_one"
    with pytest.raises(UnknownTaskError, match="did you mean"):
        pack.get("binary_search_off_by_on")
    for tier in DIFFICULTIES:
        for seed in range(5):
            if pack.tasks(tier):
                assert pack.sample(seed, tier).difficulty == tier
    assert pack.sample(3).name == pack.sample(3).name
    with pytest.raises(TaskError):
        pack.tasks("impossible")


def test_environment_resets_into_a_pack_and_records_its_identity(tmp_path, built):
    from tracefix_rl.env import TraceFixEnvironment

    path = write_pack(built.tasks, tmp_path / "built.jsonl")
    env = TraceFixEnvironment()
    obs = env.reset(task_pack=str(path), seed=4)
    assert obs.task_name in {t.name for t in built.tasks}
    assert env.manifest()["task_source"] == open_pack(path).identity
    tier = built.tasks[0].difficulty
    assert env.reset(task_pack=str(path), difficulty=tier, seed=9).difficulty == tier
    named = env.reset(task_pack=str(path), task_name=built.tasks[1].name, seed=0)
    assert named.task_name == built.tasks[1].name


def test_build_produces_validated_balanced_tasks_with_provenance(built):
    assert len(built.tasks) == 20 and built.programs == len(SMALL)
    assert built.candidates >= 20 and sum(built.rejected.values()) <= built.candidates - 20
    per_program = {}
    for t in built.tasks:
        per_program[t.provenance["program"]] = per_program.get(t.provenance["program"], 0) + 1
        prov = t.provenance
        assert prov["generator"] == "mutation" and prov["operators"] and prov["rating"]["tier"] == t.difficulty
        for m in prov["mutations"]:
            assert t.buggy.splitlines()[m["line"] - 1] == m["mutated"] or m["mutated"] is None
            assert t.reference.splitlines()[m["reference_line"] - 1] == m["original"]
        assert t.bug_type == "+".join(prov["operators"])
        assert not any(w in t.buggy for w in ("BUG", "FIXME", "TODO"))
        assert t.name.startswith(prov["program"] + "_") and not any(op in t.name for op in prov["operators"])
    assert max(per_program.values()) - min(per_program.values()) <= 1
    summary = built.summary()
    assert sum(summary["by_tier"].values()) == 20 and summary["by_operator"]


def test_build_is_deterministic_for_a_seed():
    programs = [p for p in corpus_programs() if p.name in SMALL[:2]]
    a = build_tasks(programs, target=6, seed=5, workers=2)
    b = build_tasks(programs, target=6, seed=5, workers=1)
    assert [t.content_hash for t in a.tasks] == [t.content_hash for t in b.tasks]


def test_build_skips_a_reference_that_fails_its_own_tests():
    from tracefix_rl.data.tasks._corpus import ReferenceProgram

    good = next(p for p in corpus_programs() if p.name == "gcd_recursive")
    broken = ReferenceProgram(**{**good.__dict__, "name": "broken_gcd",
                                 "reference": good.reference.replace("return a\n", "return b\n")})
    report = build_tasks([good, broken], target=4, seed=0, workers=2)
    assert [name for name, _ in report.skipped_programs] == ["broken_gcd"]
    assert "fails_own_tests" in report.skipped_programs[0][1]
    assert {t.provenance["program"] for t in report.tasks} == {"gcd_recursive"}


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    from tracefix_rl.cli._task_cmds import pack_commands

    app = typer.Typer()
    tasks_app = typer.Typer()
    app.add_typer(tasks_app, name="tasks")

    @app.callback()
    def _root() -> None:
        """test app"""

    pack_commands(tasks_app)
    runner = CliRunner()
    def invoke(*args: str):
        result = runner.invoke(app, ["tasks", *args])
        result.text = " ".join(result.output.split())  # rich wraps at the terminal width
        return result

    return invoke


def test_cli_build_stats_validate(tmp_path, cli, monkeypatch):
    import tracefix_rl.cli._task_cmds as cmds

    programs = [p for p in corpus_programs() if p.name in SMALL[:3]]
    monkeypatch.setattr(cmds, "_programs", lambda sources: (programs, []))
    out = tmp_path / "cli.jsonl"
    result = cli("build", "-o", str(out), "-n", "9", "--seed", "2", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "By tier" in result.text and "By operator" in result.text and "tasks / minute" in result.text
    header, tasks = read_pack(out)
    assert len(tasks) == 9 and header["meta"]["build"]["seed"] == 2
    assert header["meta"]["report"]["by_tier"]
    stats = cli("stats", str(out))
    assert stats.exit_code == 0 and "9 tasks" in stats.text and "By number of bugs" in stats.text
    ok = cli("validate", str(out))
    assert ok.exit_code == 0 and "every task is valid" in ok.text
    # a task whose "bug" passes everything is reported, and the command fails
    bad = Task.from_dict({**tasks[0].to_dict(), "buggy": tasks[0].reference})
    write_pack([bad] + tasks[1:], tmp_path / "bad.jsonl")
    result = cli("validate", str(tmp_path / "bad.jsonl"))
    assert result.exit_code == 1 and "same_as_reference" in result.text
    (tmp_path / "trunc.jsonl").write_text(out.read_text().splitlines()[0] + "\n")
    assert cli("validate", str(tmp_path / "trunc.jsonl")).exit_code == 1


def test_cli_import(tmp_path, cli):
    from pathlib import Path

    samples = Path(__file__).parent / "samples"
    out = tmp_path / "hef.jsonl"
    result = cli("import", "humanevalfix", str(samples / "humanevalfix_sample.jsonl"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Skipped" in result.text and "malformed JSON" in result.text
    assert len(read_pack(out)[1]) == 3
    assert cli("import", "nonsense", str(out)).exit_code != 0
    q = cli("import", "quixbugs", str(samples / "quixbugs"), "-o", str(tmp_path / "q"))
    assert q.exit_code == 0 and len(read_pack(tmp_path / "q")[1]) == 3


def test_resolve_task_for_graders_and_servers(tmp_path):
    from tracefix_rl.data.tasks import resolve_task

    path = write_pack(_tasks(), tmp_path / "p.jsonl")
    assert resolve_task("task2_medium").name == "binary_search_off_by_one"
    assert resolve_task("factorial_off_by_one", "builtin").name == "factorial_off_by_one"
    pack = open_pack(path)
    assert resolve_task("caesar_cipher_no_wrap", pack.identity) is pack.get("caesar_cipher_no_wrap")
    v = resolve_task("factorial_off_by_one", str(path), variant=1)
    assert v.provenance["variant"] == 1


def test_cli_import_humaneval_builds_mutation_tasks(tmp_path, cli):
    from pathlib import Path

    out = tmp_path / "he.jsonl"
    sample = Path(__file__).parent / "samples" / "humaneval_sample.jsonl"
    result = cli("import", "humaneval", str(sample), "-o", str(out), "--count", "6")
    assert result.exit_code == 0, result.output
    assert "HumanEval/902" in result.text  # the skipped problem is reported
    tasks = read_pack(out)[1]
    assert len(tasks) == 6 and {t.provenance["origin"].split(":")[0] for t in tasks} == {"humaneval"}
    assert cli("import", "humaneval", str(tmp_path / "none.jsonl")).exit_code != 0
