"""Full episodes over the WebSocket client against the real server process, and the extra routes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error

import pytest

from tracefix_rl import CodeAction, TraceFixRLEnv
from tracefix_rl.agents import oracle_actions
from tracefix_rl.core.models import TestResult
from tracefix_rl.data.tasks import get_task

GRADED = ("task1_easy", "task2_medium", "task3_hard")


def test_health_schema_metadata(server):
    assert server.get("/health") == {"status": "healthy"}
    meta = server.get("/metadata")
    assert meta["name"] == "tracefix_rl" and "buggy Python program" in meta["description"]
    schema = server.get("/schema")
    obs_fields = schema["observation"]["properties"]
    for name in ("final_score", "last_action_error", "test_results", "code_dict", "tests_passed"):
        assert name in obs_fields
    assert "task_name" in schema["state"]["properties"]
    assert schema["action"]["additionalProperties"] is False
    assert "REPLACE_LINES" in json.dumps(schema["action"])


@pytest.mark.parametrize("task_id", GRADED)
def test_full_episode_sync_client(server, task_id):
    task = get_task(task_id)
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        result = env.reset(task_name=task_id, seed=3)
        obs = result.observation
        assert obs.task_name == task.name and obs.difficulty == task.difficulty and not result.done
        assert all(isinstance(k, int) for k in obs.code_dict)
        for action in oracle_actions(task):
            result = env.step(action)
            assert result.observation.last_action_error is None, result.observation.last_action_error
            if result.done:
                break
        obs = result.observation
        assert result.done and obs.end_reason == "submitted"
        assert obs.tests_passed == obs.tests_total and obs.hidden_tests_passed == obs.hidden_tests_total
        assert 0 < obs.final_score < 1 and obs.final_score >= 0.9
        assert all(isinstance(r, TestResult) and r.passed for r in obs.test_results)
        assert result.reward == obs.reward
        assert obs.metadata == {"final_score": obs.final_score}  # mirror for the original baseline script
        state = env.state()
        assert state.done and state.final_score == obs.final_score and state.task_name == task.name
        assert state.step_count == obs.step_count and state.seed == 3
    # the episode was recorded and replays identically through the extra routes
    episodes = server.get("/episodes?limit=50")
    assert obs.episode_id in [e["episode_id"] for e in episodes]
    traj = server.get(f"/trajectories/{obs.episode_id}")
    assert traj["episode_id"] == obs.episode_id and len(traj["steps"]) == obs.step_count
    report = server.post(f"/episodes/{obs.episode_id}/replay")
    assert report["verified"] is True and report["steps_checked"] == obs.step_count


def test_full_episode_async_client(server):
    async def episode():
        async with TraceFixRLEnv(base_url=server.url) as env:
            result = await env.reset(task_name="task2_medium", seed=1)
            for action in oracle_actions(get_task("task2_medium"), trace=False):
                result = await env.step(action)
            state = await env.state()
            return result, state

    result, state = asyncio.run(episode())
    assert result.done and result.observation.final_score >= 0.9 and state.done


def test_errors_travel_as_observation_fields(server):
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        env.reset(task_name="task1_easy", seed=0)
        bad = env.step(CodeAction(action_type="REPLACE_LINES", start_line=40, end_line=41, new_code_block="x = 1"))
        obs = bad.observation
        assert not bad.done and obs.last_action_error and "past the end" in obs.last_action_error
        assert obs.reward < 0 and obs.reward_breakdown.get("invalid_action")
        assert obs.metadata["last_action_error"] == obs.last_action_error  # compatibility mirror only
        missing = env.step({"action_type": "REPLACE_LINES", "start_line": 1, "end_line": 1})
        assert "new_code_block" in missing.observation.last_action_error
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):
            env.step({"action_type": "VIEW_CODE", "bogus_field": 1})  # shape errors: rejected at the boundary
        ok = env.step(CodeAction(action_type="RUN_TESTS"))  # the session survives
        assert ok.observation.last_action_error is None and ok.observation.tests_total
        done = env.step(CodeAction(action_type="SUBMIT"))
        assert done.done and 0 < done.observation.final_score < 1
        after = env.step(CodeAction(action_type="VIEW_CODE"))
        assert "episode is over" in after.observation.last_action_error
        with pytest.raises(RuntimeError, match="unknown task"):
            env.reset(task_name="no_such_task")


def test_stateless_http_routes_for_validators(server):
    reset = server.post("/reset", {})
    assert reset["done"] is False and reset["observation"]["code_dict"]
    step = server.post("/step", {"action": {"action_type": "RUN_TESTS"}})
    assert step["observation"]["last_action_error"].startswith("no episode in progress")
    assert step["done"] is False


def test_tasks_route_lists_the_bank_without_hidden_parts(server):
    tasks = server.get("/tasks")
    aliases = {a for t in tasks for a in t["aliases"]}
    assert set(GRADED) <= aliases
    assert all("reference" not in t and "hidden_tests" in t and isinstance(t["hidden_tests"], int) for t in tasks)
    hard = server.get("/tasks?difficulty=hard")
    assert hard and all(t["difficulty"] == "hard" for t in hard)
    with pytest.raises(urllib.error.HTTPError) as err:
        server.get("/tasks?difficulty=impossible")
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        server.get("/trajectories/does-not-exist")
    assert err.value.code == 404


def test_import_tracefix_rl_stays_light():
    code = ("import json, sys; import tracefix_rl; from tracefix_rl import CodeAction; "
            "import tracefix_rl.graders, tracefix_rl.agents, tracefix_rl.agents.llm, tracefix_rl.server; "
            "print(json.dumps(sorted(sys.modules)))")
    mods = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout)
    heavy = [m for m in mods if m.split(".")[0] in ("openenv", "openai", "gradio", "fastapi", "uvicorn", "fastmcp")]
    assert heavy == []


def test_openenv_task_api_selects_tasks(server):
    splits = [s["name"] for s in server.get("/tracefix_rl/splits")]
    assert splits[:2] == ["graded", "all"]
    graded = server.post("/tracefix_rl/tasks", {"split": "graded"})["tasks"]
    assert [t["aliases"] for t in graded] == [["task1_easy"], ["task2_medium"], ["task3_hard"]]
    assert server.post("/tracefix_rl/num_tasks", {"split": "all"})["num_tasks"] == len(server.get("/tasks"))
    third = server.post("/tracefix_rl/task", {"split": "graded", "index": 2})["task"]
    assert third["difficulty"] == "hard"
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        obs = env.reset(split="graded", index=2).observation
        assert obs.task_name == third["task_name"]


def test_root_server_app_honours_port_and_capacity_env(tmp_path):
    from _live_server import ROOT, live_server

    with live_server(tmp_path, port_from_env=True, command=[sys.executable, str(ROOT / "server" / "app.py")],
                     env={"TRACEFIX_MAX_SESSIONS": "7", "TRACEFIX_SESSION_TIMEOUT": "30"}) as srv:
        assert srv.get("/sessions")["capacity"] == 7 and srv.get("/sessions")["session_timeout"] == 30
        assert srv.get("/metadata")["name"] == "tracefix_rl"
