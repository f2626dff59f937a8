"""The trace CLI commands, through a local Typer app (the lead registers them in the main CLI)."""

from __future__ import annotations

import json

import typer
from _examples import EXAMPLES
from typer.testing import CliRunner

from tracefix_rl.cli._trace_cmds import trace_command, traces_app
from tracefix_rl.engines.trace import trace_program

app = typer.Typer()
app.command("trace")(trace_command)
app.add_typer(traces_app, name="traces")
runner = CliRunner()


def _program(tmp_path, num=1):
    path = tmp_path / "prog.py"
    path.write_text(EXAMPLES[num]["program"])
    return path


def test_trace_cwm_is_the_exact_generation(tmp_path):
    res = runner.invoke(app, ["trace", str(_program(tmp_path)), "--call", "f(3)"])
    assert res.exit_code == 0, res.output
    expected = trace_program(EXAMPLES[1]["program"], call="f(3)").text
    assert res.stdout == expected + "\n"
    assert res.stdout.startswith("<|call_sep|>{}<|action_sep|>def main():\n")


def test_trace_entry_mode(tmp_path):
    path = tmp_path / "p.py"
    path.write_text("def g():\n    return 7\n")
    res = runner.invoke(app, ["trace", str(path), "--entry", "g"])
    assert res.exit_code == 0
    assert res.stdout.startswith("<|call_sep|>{}<|action_sep|>def g():\n")


def test_trace_pretty_and_json(tmp_path):
    res = runner.invoke(app, ["trace", str(_program(tmp_path)), "--call", "f(3)", "--format", "pretty"])
    assert res.exit_code == 0 and "result: 3" in res.stdout and "-> f(n=3)" in res.stdout
    res = runner.invoke(app, ["trace", str(_program(tmp_path)), "--call", "f(3)", "--format", "json"])
    data = json.loads(res.stdout)
    assert data["python_version"].startswith("CPython") and data["return_value"] == "3"
    assert "cwm_exact" in data and data["truncated"] is False


def test_trace_needs_exactly_one_of_entry_and_call(tmp_path):
    res = runner.invoke(app, ["trace", str(_program(tmp_path))])
    assert res.exit_code == 2
    res = runner.invoke(app, ["trace", str(_program(tmp_path)), "--entry", "f", "--call", "f(1)"])
    assert res.exit_code == 2


def test_trace_truncation_is_reported(tmp_path):
    path = tmp_path / "p.py"
    path.write_text("def f():\n    while True:\n        pass\n")
    res = runner.invoke(app, ["trace", str(path), "--call", "f()", "--max-frames", "10"])
    assert res.exit_code == 1 and "truncated (max_frames)" in res.stderr


def test_traces_score(tmp_path):
    ex1, ex3 = EXAMPLES[1], EXAMPLES[3]
    good = {"id": "a", "program": ex1["program"], "call": ex1["call"], "prediction": ex1["trace"]}
    bad = {"id": "b", "program": ex1["program"], "call": ex1["call"], "prediction": "garbage"}
    exc = {"id": "c", "program": ex3["program"], "call": ex3["call"], "prediction": ex3["trace"]}
    loop = {"id": "d", "program": "def f():\n    while True:\n        pass\n", "call": "f()", "prediction": ""}
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(json.dumps(r) for r in (good, bad, exc, loop)) + "\n")
    out = tmp_path / "report.json"
    res = runner.invoke(app, ["traces", "score", str(pred), "--json", str(out), "--timeout", "1"])
    assert res.exit_code == 0, res.output
    assert "Valid Trace Format" in res.stdout and "skipped line 4" in res.stdout
    assert "unverified" in res.stdout
    report = json.loads(out.read_text())
    assert report["overall"]["n"] == 3
    assert abs(report["overall"]["valid_trace_format"] - 200 / 3) < 1e-9
    assert report["with_exceptions"]["n"] == 1 and report["with_exceptions"]["state_exact_match"] == 100.0
    assert report["without_exceptions"]["action_exact_match"] == 50.0
    assert [p["id"] for p in report["per_trace"]] == ["a", "b", "c"]
    summary = json.loads(res.stdout[res.stdout.index("{\n"):])
    assert summary["overall"]["n"] == 3
