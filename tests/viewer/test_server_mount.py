"""The viewer mounted in the real server: the server's key rules, the landing page, offline docs."""

from __future__ import annotations

import httpx
import pytest
from _live_server import live_server

from tracefix_rl import CodeAction
from tracefix_rl.client import TraceFixRLEnv
from tracefix_rl.data.tasks import get_task
from tracefix_rl.viewer import REPLAY_HEADER


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("keyed"), "--api-key", "key-one,key-two") as srv:
        with TraceFixRLEnv(base_url=srv.url, api_key="key-one").sync() as env:
            eid = env.reset(task_name="binary_search_off_by_one", seed=1).observation.episode_id
            env.step(CodeAction(action_type="RUN_TESTS", thought="<b>mine</b>"))
            env.step(CodeAction(action_type="SUBMIT"))
        yield srv, eid


def test_a_key_sees_only_its_own_episodes_in_the_viewer(keyed):
    srv, eid = keyed
    one, two = {"Authorization": "Bearer key-one"}, {"X-API-Key": "key-two"}
    with httpx.Client(base_url=srv.url) as c:
        for path in ("/viewer/", f"/viewer/episodes/{eid}", "/viewer/tasks", "/viewer/static/../episodes"):
            assert c.get(path).status_code == 401, path
        mine = c.get("/viewer/", headers=one)
        assert mine.status_code == 200 and eid in mine.text and 'id="episode-count">1<' in mine.text
        theirs = c.get("/viewer/", headers=two)
        assert eid not in theirs.text and 'id="episode-count">0<' in theirs.text
        page = c.get(f"/viewer/episodes/{eid}", headers=one)
        assert page.status_code == 200 and "&lt;b&gt;mine&lt;/b&gt;" in page.text
        assert c.get(f"/viewer/episodes/{eid}", headers=two).status_code == 404
        assert c.get(f"/viewer/compare?a={eid}&b={eid}", headers=two).status_code == 404
        replay = f"/viewer/api/episodes/{eid}/replay"
        assert c.post(replay, headers={**two, REPLAY_HEADER[0]: REPLAY_HEADER[1]}).status_code == 404
        assert c.post(replay, headers={**one, REPLAY_HEADER[0]: REPLAY_HEADER[1]}).json()["verified"] is True
        # static files and the landing page need no key; they hold no episode data
        for path in ("/", "/viewer/static/viewer.css", "/viewer/static/code.css", "/docs", "/redoc",
                     "/docs-static/swagger-ui-bundle.js"):
            assert c.get(path).status_code == 200, path


def test_the_servers_task_pages_never_show_the_solution(keyed):
    srv, _ = keyed
    task = get_task("binary_search_off_by_one")
    fixed = [ln.strip() for ln in set(task.reference.splitlines()) - set(task.buggy.splitlines())]
    with httpx.Client(base_url=srv.url, headers={"X-API-Key": "key-one"}) as c:
        html = c.get("/viewer/tasks/binary_search_off_by_one").text
    assert 'id="solution-hidden"' in html and 'id="task-program"' in html
    assert fixed and not any(line in html for line in fixed)
    assert task.bug_description not in html
    assert not any(t.name in html for t in task.hidden_tests)


def test_without_a_key_the_viewer_follows_the_trajectory_routes_switch(tmp_path):
    from starlette.testclient import TestClient

    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.server.app import create_app

    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    try:
        with TestClient(create_app(recorder=rec, trajectory_routes=False)) as c:
            r = c.get("/viewer/")
            assert r.status_code == 403 and "--trajectory-routes" in r.text
            landing = c.get("/")
            assert landing.status_code == 200 and "--trajectory-routes" in landing.text
            assert c.get("/web", follow_redirects=False).headers["location"] == "/"
        with TestClient(create_app(recorder=rec, trajectory_routes=True)) as c:
            assert c.get("/viewer/").status_code == 200 and "--trajectory-routes" not in c.get("/").text
    finally:
        rec.close()


def test_the_landing_page_and_the_api_docs_work_without_internet(keyed, page):
    srv, _ = keyed
    p = page.page
    p.goto(srv.url + "/")  # the landing page and the docs need no key
    for link, target in (("#link-viewer", "/viewer/"), ("#link-docs", "/docs"), ("#link-health", "/health"),
                         ("#link-tasks", "/tasks")):
        assert p.locator(link).get_attribute("href") == target
    p.locator("#link-docs").click()
    p.locator(".swagger-ui .info .title").wait_for(timeout=30_000)
    assert "TraceFix-RL" in p.locator(".swagger-ui .info .title").inner_text()
    assert p.locator(".opblock-summary-path", has_text="/tasks").count() >= 1
    p.goto(srv.url + "/redoc")
    p.locator("h1", has_text="TraceFix-RL").first.wait_for(timeout=30_000)
    page.context.set_extra_http_headers({"X-API-Key": "key-two"})  # a key that recorded nothing
    p.goto(srv.url + "/")
    p.locator("#link-viewer").click()
    assert p.locator("#episode-count").inner_text() == "0"
