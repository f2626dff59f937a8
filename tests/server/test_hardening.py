"""No client can crash a session, stall others, corrupt a record or read what is not its own.

Each test names the defect it pins (D1-D11: shared episode ids, half resets, wedged sessions,
any-path task packs, variant amplification, half-applied steps, leaks, identical unseeded task
sequences, reaped sessions, exposure, truncated observations). They run against the real server
process (``server`` fixture or a dedicated one), through raw WebSocket frames where the point is
what a hostile client can send.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import httpx
import pytest
import websockets
from _live_server import live_server

from tracefix_rl import CodeAction, TraceFixRLEnv

SURROGATE_ID = '{"type": "reset", "data": {"task_name": "task1_easy", "episode_id": "\\ud800"}}'


def _ws_url(srv) -> str:
    return srv.url.replace("http://", "ws://") + "/ws"


class Raw:
    """A raw WebSocket session: send any frame, read the reply as JSON."""

    def __init__(self, ws):
        self.ws = ws

    async def send(self, payload) -> dict:
        await self.ws.send(payload if isinstance(payload, str | bytes) else json.dumps(payload))
        return json.loads(await asyncio.wait_for(self.ws.recv(), 30))

    async def state(self) -> dict:
        reply = await self.send({"type": "state"})
        assert reply["type"] == "state", reply
        return reply["data"]


def run_raw(srv, body, *, headers=None):
    async def go():
        async with websockets.connect(_ws_url(srv), max_size=None, additional_headers=headers or {}) as ws:
            return await body(Raw(ws))

    return asyncio.run(go())


def test_d1_a_client_chosen_episode_id_that_exists_is_refused(server):
    async def body(a: Raw):
        async with websockets.connect(_ws_url(server), max_size=None) as wb:
            b = Raw(wb)
            first = await a.send({"type": "reset", "data": {"task_name": "task1_easy", "seed": 1,
                                                            "episode_id": "d1-shared"}})
            assert first["type"] == "observation"
            await b.send({"type": "reset", "data": {"task_name": "task2_medium", "seed": 2}})
            b_before = await b.state()
            clash = await b.send({"type": "reset", "data": {"task_name": "task1_easy", "episode_id": "d1-shared"}})
            assert clash["type"] == "error" and clash["data"]["code"] == "EPISODE_ID_IN_USE"
            assert clash["data"]["field"] == "episode_id" and "d1-shared" in clash["data"]["message"]
            assert await b.state() == b_before
            await b.send({"type": "step", "data": {"action_type": "VIEW_CODE"}})
            await a.send({"type": "step", "data": {"action_type": "RUN_TESTS"}})
            return b_before["episode_id"]

    other = run_raw(server, body)
    shared = server.get("/trajectories/d1-shared")
    assert [s["action_type"] for s in shared["steps"]] == ["RUN_TESTS"] and shared["seed"] == 1
    assert [s["action_type"] for s in server.get(f"/trajectories/{other}")["steps"]] == ["VIEW_CODE"]


@pytest.mark.parametrize(("data", "field"), [({"seed": 1.5}, "seed"), ({"seed": "abc"}, "seed"),
                                             ({"episode_id": 5}, "episode_id"), ({"seed": 2**63}, "seed"),
                                             ({"tsak_name": "x"}, "tsak_name"), ({"variant": 10**9}, "variant")])
def test_d2_d3_d5_a_rejected_reset_leaves_the_episode_recording_as_before(server, data, field):
    async def body(s: Raw):
        await s.send({"type": "reset", "data": {"task_name": "task2_medium", "seed": 7}})
        await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}})
        before = await s.state()
        started = time.monotonic()
        bad = await s.send({"type": "reset", "data": {"task_name": "task1_easy", **data}})
        assert time.monotonic() - started < 5  # D5: a huge variant is refused before any sandbox work
        assert bad["type"] == "error" and bad["data"]["code"] == "VALIDATION_ERROR", bad
        assert bad["data"]["field"] == field and field in bad["data"]["message"]
        assert await s.state() == before
        ok = await s.send({"type": "step", "data": {"action_type": "RUN_TESTS"}})
        assert ok["type"] == "observation" and ok["data"]["observation"]["episode_id"] == before["episode_id"]
        return before["episode_id"]

    eid = run_raw(server, body)
    report = server.post(f"/episodes/{eid}/replay")
    assert report["verified"] and report["steps_checked"] == 2


def test_d3_a_surrogate_episode_id_does_not_wedge_the_session(server):
    async def body(s: Raw):
        await s.send({"type": "reset", "data": {"task_name": "task1_easy", "seed": 3}})
        bad = await s.send(SURROGATE_ID)
        assert bad["type"] == "error" and "episode_id" in bad["data"]["message"] and "surrogate" in bad["data"]["message"]
        ok = await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}})
        assert ok["type"] == "observation" and ok["data"]["observation"]["last_action_error"] is None

    run_raw(server, body)


@pytest.mark.parametrize(("frame", "words"), [
    (b"\x00\x01binary", "binary"), (b'{"type": "state"}', "binary"), ("{", "not valid JSON"), ("", "empty"),
    ("[1, 2]", "JSON object"), ('"step"', "JSON object"), ("null", "JSON object"),
    ('{"type": "step", "data": {"action_type": "VIEW_CODE", "thought": NaN}}', "NaN"),
    ('{"type": "step", "data": {"action_type": "REPLACE_LINES", "start_line": 1e999}}', "out of range"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"type": "step", "data": {"action_type": "VIEW_CODE", "thought": "ok\\ud800"}}', "data.thought"),
    ('{"type": "step", "data": {"\\udc00": 1}}', "surrogate"), ('{"type": "\\ud800"}', "type"),
    ('{"data": {}}', "no 'type'"), ('{"type": 5}', "unknown message type"), ('{"type": "bogus"}', "'bogus'"),
    ('{"type": "step"}', "needs 'data'"), ('{"type": "step", "data": [1]}', "data"),
    ('{"type": "step", "data": {"action_type": "VIEW_CODE", "bogus": 1}}', "bogus: unknown field"),
    ('{"type": "step", "data": {"action_type": "REPLACE_LINES", "start_line": true}}', "start_line"),
    ('{"type": "reset", "data": "x"}', "data"), ('{"type": "mcp", "data": {}}', "mcp"),
])
def test_every_malformed_frame_gets_a_named_error_and_the_session_survives(server, frame, words):
    async def body(s: Raw):
        await s.send({"type": "reset", "data": {"task_name": "task1_easy", "seed": 1}})
        before = await s.state()
        reply = await s.send(frame)
        assert reply["type"] == "error", reply
        assert words.lower() in reply["data"]["message"].lower(), reply
        assert "object has no attribute" not in reply["data"]["message"]
        assert await s.state() == before
        ok = await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}})
        assert ok["type"] == "observation"

    run_raw(server, body)


def test_an_oversized_message_is_refused_and_a_huge_frame_stalls_no_one(server):
    async def body(s: Raw):
        await s.send({"type": "reset", "data": {"task_name": "task1_easy", "seed": 1}})
        big = {"type": "step", "data": {"action_type": "VIEW_CODE", "thought": "t" * (1 << 20)}}
        reply = await s.send(big)
        assert reply["type"] == "error" and "too large" in reply["data"]["message"]
        assert (await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}}))["type"] == "observation"
        # beyond the transport cap (8 x the limit) the socket is closed with 1009, at once
        async with websockets.connect(_ws_url(server), max_size=None) as hog:
            started = time.monotonic()
            await hog.send("x" * (20 << 20))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(hog.recv(), 10)
            assert closed.value.rcvd.code == 1009
            assert time.monotonic() - started < 5
            t = time.monotonic()
            assert (await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}}))["type"] == "observation"
            assert time.monotonic() - t < 2  # the other session was not frozen

    run_raw(server, body)


def test_d7_stateless_http_resets_record_nothing(server):
    before = sqlite3.connect(server.db).execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    with httpx.Client(base_url=server.url) as client:
        for seed in range(5):
            r = client.post("/reset", json={"seed": seed})
            assert r.status_code == 200 and r.json()["observation"]["code_dict"]
    after = sqlite3.connect(server.db).execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    assert after == before


def test_d8_unseeded_sessions_get_different_seeds(server):
    seeds = []
    for _ in range(3):
        with TraceFixRLEnv(base_url=server.url).sync() as env:
            env.reset()
            seeds.append(env.state().seed)
    assert len(set(seeds)) == 3 and all(isinstance(s, int) for s in seeds)


def test_d11_the_trajectory_route_returns_every_full_observation(server):
    with TraceFixRLEnv(base_url=server.url).sync() as env:
        first = env.reset(task_name="task2_medium", seed=2).observation
        seen = [env.step(CodeAction(action_type=a)).observation for a in ("RUN_TESTS", "TRACE", "VIEW_CODE")]
    traj = server.get(f"/trajectories/{first.episode_id}")
    assert traj["initial_observation"]["last_execution_output"] == first.last_execution_output
    for step, obs in zip(traj["steps"], seen, strict=True):
        assert step["observation"]["last_execution_output"] == obs.last_execution_output
        assert step["observation"]["code_dict"] == {str(k): v for k, v in obs.code_dict.items()}
    assert max(len(o.last_execution_output) for o in seen) > 600
    # the stored manifest carries the task (reference, hidden tests); the client never gets it
    assert "task" not in traj["manifest"] and traj["manifest"]["task_withheld"] is True
    assert "hidden_tests\"" not in json.dumps(traj) and "reference" not in json.dumps(traj["manifest"])


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"seed": 1.5}, 422, "seed"), ({"seed": -1}, 422, "seed"), ({"seed": 2**64}, 422, "seed"),
    ({"task_name": 5}, 422, "task_name"), ({"task_name": "no_such_task"}, 422, "no_such_task"),
    ({"difficulty": "impossible"}, 422, "difficulty"), ({"variant": 10**9}, 422, "variant"),
    ({"task_pack": "/dev/zero"}, 422, "task_pack"), ({"tsak_name": "x"}, 422, "tsak_name"),
    ({"split": "nope"}, 422, "split"), ({"split": "all", "index": 10**5}, 422, "index"),
    ({"episode_id": "a b"}, 422, "episode_id"), ([1, 2], 422, "body"),
])
def test_bad_http_reset_input_is_a_4xx_naming_the_field(server, body, status, words):
    with httpx.Client(base_url=server.url) as client:
        r = client.post("/reset", json=body)
        assert r.status_code == status, r.text
        assert words in r.text
        assert client.get("/health").json() == {"status": "healthy"}  # the keep-alive connection still works


@pytest.mark.parametrize(("content", "status", "words"), [
    (b'{"seed": NaN}', 400, "NaN"), (b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
    (b'{"task_name": "\\ud800"}', 400, "task_name"), (b"{", 400, "not valid JSON"), (b"\xff\xfe", 400, "UTF-8"),
    (b'{"x": 1' + b" " * (2 << 20) + b"}", 413, "too large"),
])
def test_http_bodies_that_are_not_strict_json_are_refused_by_name(server, content, status, words):
    with httpx.Client(base_url=server.url) as client:
        for path in ("/reset", "/step", "/mcp", "/tracefix_rl/tasks"):
            r = client.post(path, content=content, headers={"content-type": "application/json"})
            assert r.status_code == status, (path, r.text)
            assert words in r.text
        assert client.get("/health").status_code == 200


def test_the_openapi_schema_documents_the_reset_fields_and_errors(server):
    spec = server.get("/openapi.json")
    reset = spec["paths"]["/reset"]["post"]
    schema = json.dumps(spec["components"]["schemas"]["ResetArgs"])
    for field in ("task_name", "seed", "variant", "episode_id", "task_pack", "difficulty"):
        assert field in schema
    assert {"400", "401", "409", "413", "422"} <= set(reset["responses"])


def test_d9_a_reaped_session_refuses_to_reset_and_records_no_phantom(tmp_path):
    with live_server(tmp_path, "--session-timeout", "1", "--trajectory-routes") as srv:
        async def body(s: Raw):
            await s.send({"type": "reset", "data": {"task_name": "task1_easy", "seed": 1}})
            deadline = time.monotonic() + 20
            while srv.get("/sessions")["active"] and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            count = len(srv.get("/episodes?limit=100"))
            again = await s.send({"type": "reset", "data": {"task_name": "task2_medium"}})
            assert again["type"] == "error" and again["data"]["code"] == "SESSION_CLOSED"
            assert "idle for more than 1 s" in again["data"]["message"]
            step = await s.send({"type": "step", "data": {"action_type": "VIEW_CODE"}})
            assert "closed by the server" in step["data"]["observation"]["last_action_error"]
            assert len(srv.get("/episodes?limit=100")) == count

        run_raw(srv, body)


def test_d10_binds_loopback_by_default_and_an_api_key_guards_everything(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tracefix_rl.cli.main import app as cli
    from tracefix_rl.server.app import _parser

    monkeypatch.delenv("HOST", raising=False)
    assert _parser().parse_args([]).host == "127.0.0.1"
    assert "127.0.0.1" in CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200"}).output

    with live_server(tmp_path, "--api-key", "key-one,key-two") as srv:
        one, two = {"Authorization": "Bearer key-one"}, {"X-API-Key": "key-two"}
        with httpx.Client(base_url=srv.url) as client:
            assert client.get("/health").status_code == 200 and client.get("/schema").status_code == 200
            for method, path in (("GET", "/tasks"), ("GET", "/episodes"), ("POST", "/reset"), ("GET", "/sessions"),
                                 ("GET", "/trajectories/x"), ("POST", "/mcp")):
                r = client.request(method, path, json={})
                assert r.status_code == 401 and "API key" in r.text, (path, r.text)
            assert client.get("/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401

        async def refused(s: Raw):
            reply = json.loads(await s.ws.recv())
            assert reply["data"]["code"] == "UNAUTHORIZED"
            with pytest.raises(websockets.ConnectionClosed):
                await s.ws.recv()

        run_raw(srv, refused)
        with TraceFixRLEnv(base_url=srv.url, api_key="key-one").sync() as env:
            eid = env.reset(task_name="task1_easy", seed=1).observation.episode_id
            env.step(CodeAction(action_type="VIEW_CODE"))
        with httpx.Client(base_url=srv.url) as client:
            assert [e["episode_id"] for e in client.get("/episodes", headers=one).json()] == [eid]
            assert client.get(f"/trajectories/{eid}", headers=one).status_code == 200
            assert client.get("/episodes", headers=two).json() == []
            assert client.get(f"/trajectories/{eid}", headers=two).status_code == 404
            assert client.post(f"/episodes/{eid}/replay", headers=two).status_code == 404
            assert client.post(f"/episodes/{eid}/replay", headers=one).json()["verified"] is True


def test_d10_trajectory_routes_are_off_without_a_key_unless_enabled(tmp_path):
    with live_server(tmp_path) as srv:
        with httpx.Client(base_url=srv.url) as client:
            for path in ("/episodes", "/trajectories/abc"):
                r = client.get(path)
                assert r.status_code == 403 and "--api-key" in r.text


def test_an_observation_holding_invalid_unicode_still_makes_a_valid_frame():
    from tracefix_rl.server._ws import _observation_frame
    from tracefix_rl.server.wire import TraceFixObservation

    frame = _observation_frame(TraceFixObservation(last_execution_output="printed \ud800 by a program"))
    frame.encode("utf-8")  # sendable
    assert json.loads(frame)["data"]["observation"]["last_execution_output"] == "printed \ud800 by a program"
    ok = json.loads(_observation_frame(TraceFixObservation(last_execution_output="é ✓")))
    assert ok["data"]["observation"]["last_execution_output"] == "é ✓"
