"""Concurrent sessions are isolated; capacity is enforced; idle sessions are reaped."""

from __future__ import annotations

import asyncio
import time

import pytest
from _live_server import get_json, live_server

from tracefix_rl import CodeAction, TraceFixRLEnv
from tracefix_rl.data.tasks import get_task

N = 32


def test_32_concurrent_sessions_do_not_see_each_other(server):
    tasks = ["task1_easy", "task2_medium", "task3_hard"]

    async def open_session(i: int):
        env = TraceFixRLEnv(base_url=server.url)
        await env.connect()
        result = await env.reset(task_name=tasks[i % 3], seed=i, episode_id=f"concurrent-{i}")
        return env, result

    async def work(i: int, env: TraceFixRLEnv, first):
        n_lines = len(first.observation.code_dict)
        marker = f"SESSION_MARKER_{i} = {i}"
        edit = await env.step(CodeAction(action_type="REPLACE_LINES", start_line=n_lines + 1,
                                         end_line=n_lines + 1, new_code_block=marker))
        assert edit.observation.last_action_error is None
        for _ in range(i % 3):  # a different number of extra steps per session
            await env.step(CodeAction(action_type="RUN_TESTS"))
        view = await env.step(CodeAction(action_type="VIEW_CODE"))
        state = await env.state()
        await env.close()
        return view.observation, state

    async def run():
        opened = await asyncio.gather(*(open_session(i) for i in range(N)))
        live = await asyncio.to_thread(get_json, server.url + "/sessions")
        results = await asyncio.gather(*(work(i, env, first) for i, (env, first) in enumerate(opened)))
        return opened, live, results

    opened, live, results = asyncio.run(run())
    assert live["active"] >= N and live["capacity"] == 256 and live["session_timeout"] == 600
    for i, (obs, state) in enumerate(results):
        task = get_task(tasks[i % 3])
        code = "\n".join(obs.code_dict.values())
        assert f"SESSION_MARKER_{i} = {i}" in code
        assert code.count("SESSION_MARKER_") == 1, "a session saw another session's edit"
        assert obs.task_name == task.name and obs.episode_id == f"concurrent-{i}"
        assert state.episode_id == f"concurrent-{i}" and state.seed == i
        assert state.step_count == obs.step_count == 2 + i % 3
    deadline = time.monotonic() + 10
    while get_json(server.url + "/sessions")["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get_json(server.url + "/sessions")["active"] == 0, "closed sessions were not released"


def test_capacity_is_enforced_and_idle_sessions_are_reaped(tmp_path):
    with live_server(tmp_path, "--max-sessions", "2", "--session-timeout", "1") as srv:
        assert srv.get("/sessions")["capacity"] == 2
        a = TraceFixRLEnv(base_url=srv.url).sync()
        b = TraceFixRLEnv(base_url=srv.url).sync()
        c = TraceFixRLEnv(base_url=srv.url).sync()
        try:
            a.connect()
            a.reset(task_name="task1_easy")
            b.connect()
            b.reset(task_name="task1_easy")
            with pytest.raises(Exception, match="CAPACITY_REACHED"):
                c.connect()
                c.reset(task_name="task1_easy")
            assert srv.get("/sessions")["active"] == 2
            # both sessions now sit idle; the reaper (checks every >= 5 s) must free them
            deadline = time.monotonic() + 20
            while srv.get("/sessions")["active"] and time.monotonic() < deadline:
                time.sleep(0.25)
            book = srv.get("/sessions")
            assert book["active"] == 0 and book["closed"] >= 2, book
            # the reaped session answers with a typed error, and its slot is free again
            stale = a.step(CodeAction(action_type="VIEW_CODE"))
            assert "closed by the server" in stale.observation.last_action_error
            assert "idle for more than 1 s" in stale.observation.last_action_error
            d = TraceFixRLEnv(base_url=srv.url).sync()
            with d:
                assert d.reset(task_name="task2_medium").observation.task_name == "binary_search_off_by_one"
        finally:
            for env in (a, b, c):
                try:
                    env.close()
                except Exception:
                    pass
