"""``inference.py`` end to end: a subprocess against the real server and a real HTTP model endpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from _live_server import ROOT

START = re.compile(r"^\[START\] task=(\S+) env=(\S+) model=(\S+)$")
STEP = re.compile(r"^\[STEP\] step=(\d+) action=([A-Z_]+) reward=(-?\d+\.\d{2}) done=(true|false) error=(.+)$")
END = re.compile(r"^\[END\] success=(true|false) steps=(\d+) score=(\d\.\d{2}) rewards=((?:-?\d+\.\d{2})(?:,-?\d+\.\d{2})*)?$")
TASKS = ["task1_easy", "task2_medium", "task3_hard"]


RUNS = {  # name: (model, args, extra env); all run concurrently against the same two servers
    "fix": ("scripted-fix", [], {}),
    "fenced": ("scripted-fenced", ["--easy"], {}),
    "garbage": ("scripted-garbage", ["--medium"], {}),
    "loop": ("scripted-loop", ["--hard"], {}),
    "deadline": ("scripted-deadline", [], {"DEADLINE_S": "0.001"}),
    "unreachable": ("scripted-fix", [], {"ENV_BASE_URL": "UNREACHABLE"}),
}


@dataclass
class Run:
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def runs(env_server, model_server) -> dict[str, Run]:
    """``inference.py`` once per entry of RUNS, as concurrent subprocesses."""
    from _live_server import free_port

    procs = {}
    for name, (model, args, extra) in RUNS.items():
        env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_IMAGE_NAME", "IMAGE_NAME", "API_KEY")}
        env.update({"API_BASE_URL": model_server.base_url, "MODEL_NAME": model, "HF_TOKEN": "test-token",
                    "ENV_BASE_URL": env_server.url, **extra})
        if env["ENV_BASE_URL"] == "UNREACHABLE":
            env["ENV_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
        procs[name] = subprocess.Popen([sys.executable, str(ROOT / "inference.py"), *args], cwd=ROOT, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)  # six runs at once on a loaded 2-core machine
        assert proc.returncode == 0, f"{name}: {stderr}"
        out[name] = Run(stdout, stderr)
    return out


def parse_episodes(stdout: str, model: str) -> list[dict]:
    """Check every stdout line against the contract and group them per task."""
    episodes: list[dict] = []
    current: dict | None = None
    for line in stdout.splitlines():
        if m := START.match(line):
            assert current is None, f"[START] before the previous [END]: {line}"
            assert m.group(2) == "tracefix_rl" and m.group(3) == model
            current = {"task": m.group(1), "steps": []}
        elif m := STEP.match(line):
            assert current is not None, f"[STEP] outside an episode: {line}"
            n, action, reward, done, error = m.groups()
            assert int(n) == len(current["steps"]) + 1
            current["steps"].append({"action": action, "reward": float(reward), "done": done == "true",
                                     "error": None if error == "null" else error})
        elif m := END.match(line):
            assert current is not None, f"[END] without [START]: {line}"
            success, steps, score, rewards = m.groups()
            current.update(success=success == "true", n_steps=int(steps), score=float(score),
                           rewards=[float(r) for r in rewards.split(",")] if rewards else [])
            assert current["n_steps"] == len(current["steps"])
            assert current["rewards"] == [s["reward"] for s in current["steps"]]
            assert 0 < current["score"] < 1, line
            episodes.append(current)
            current = None
        else:
            pytest.fail(f"stdout line outside the contract: {line!r}")
    assert current is None, "an episode has no [END]"
    return episodes


def _calls(model_server, model: str) -> list[dict]:
    with model_server.lock:
        return [r for r in model_server.requests if r["model"] == model]


def test_scripted_model_fixes_all_three_tasks(runs, model_server):
    proc = runs["fix"]
    episodes = parse_episodes(proc.stdout, "scripted-fix")
    assert [e["task"] for e in episodes] == TASKS
    for ep in episodes:
        actions = [s["action"] for s in ep["steps"]]
        assert "REPLACE_LINES" in actions and actions[-1] == "SUBMIT", actions
        assert ep["success"] is True and ep["score"] >= 0.9, ep
        assert ep["steps"][-1]["done"] and all(s["error"] is None for s in ep["steps"])
    calls = _calls(model_server, "scripted-fix")
    assert calls and all(c["structured"] for c in calls), "structured output should have succeeded"
    assert all(c["auth"] == "Bearer test-token" for c in calls)
    assert "[START]" not in proc.stderr


def test_json_fallback_when_structured_output_fails(runs, model_server):
    proc = runs["fenced"]
    [ep] = parse_episodes(proc.stdout, "scripted-fenced")
    assert ep["task"] == "task1_easy" and ep["success"] is True
    calls = _calls(model_server, "scripted-fenced")
    assert any(not c["structured"] for c in calls), "the create() fallback was never used"


def test_parse_error_kill_switch(runs, model_server):
    proc = runs["garbage"]
    [ep] = parse_episodes(proc.stdout, "scripted-garbage")
    assert ep["task"] == "task2_medium" and ep["success"] is False
    assert [s["action"] for s in ep["steps"]] == ["SUBMIT"]  # the kill switch submits; no model action ran
    assert "parse error 3/3" in proc.stderr
    feedback = [c["user"] for c in _calls(model_server, "scripted-garbage")]
    assert any(u.startswith("PARSE_ERROR: JSON schema violation: field 'action_type'") for u in feedback)


def test_loop_kill_switch(runs):
    proc = runs["loop"]
    [ep] = parse_episodes(proc.stdout, "scripted-loop")
    assert ep["task"] == "task3_hard" and ep["success"] is False
    assert [s["action"] for s in ep["steps"]] == ["VIEW_CODE", "VIEW_CODE", "SUBMIT"]
    assert "loop kill switch" in proc.stderr


def test_end_lines_even_when_the_environment_is_unreachable(runs):
    proc = runs["unreachable"]
    episodes = parse_episodes(proc.stdout, "scripted-fix")
    assert [e["task"] for e in episodes] == TASKS
    assert all(e["score"] == 0.01 and e["n_steps"] == 0 and not e["success"] for e in episodes)


def test_help_is_fast_and_lists_the_flags():
    proc = subprocess.run([sys.executable, str(ROOT / "inference.py"), "--help"], capture_output=True,
                          text=True, timeout=30, cwd=ROOT)
    assert proc.returncode == 0
    for flag in ("--easy", "--medium", "--hard", "--thought"):
        assert flag in proc.stdout


def test_global_deadline_submits_without_model_calls(runs, model_server):
    episodes = parse_episodes(runs["deadline"].stdout, "scripted-deadline")
    assert [e["task"] for e in episodes] == TASKS
    assert all([s["action"] for s in e["steps"]] == ["SUBMIT"] for e in episodes)
    assert all(0 < e["score"] < 1 for e in episodes)
    assert _calls(model_server, "scripted-deadline") == []
