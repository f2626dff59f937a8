"""The viewer's pages over HTTP (the real ASGI app on a real store): content, escaping, errors."""

from __future__ import annotations

import re

import pytest
from _episodes import XSS
from markupsafe import escape
from starlette.testclient import TestClient

from tracefix_rl.data.trajectories import TrajectoryStore
from tracefix_rl.viewer import REPLAY_HEADER, create_viewer_app


@pytest.fixture(scope="module")
def client(recorded):
    db, _ = recorded
    store = TrajectoryStore(db)
    with TestClient(create_viewer_app(store)) as c:
        yield c
    store.close()


def test_every_page_escapes_what_the_agent_wrote(client, recorded):
    _, ids = recorded
    html = client.get(f"/episodes/{ids['hostile']}").text
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert str(escape(XSS)) in html  # the thought, as text
    assert html.count("<script") == 1  # the viewer's own script tag only
    for path in ("/", "/?task=%3Cscript%3E", f"/compare?a={ids['hostile']}&b={ids['oracle']}", "/tasks/%3Cb%3E",
                 "/episodes/%3Cscript%3E", "/nope/%3Cscript%3Ex"):
        page = client.get(path).text
        assert "<script>" not in page and "<b>" not in page, path


def test_pages_carry_a_policy_that_allows_only_this_origin(client):
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text), "a page refers to another host"


@pytest.mark.parametrize(("query", "named"), [
    ("min_score=abc", "min_score"), ("max_score=nan", "max_score"), ("since=2026-13-01", "since"),
    ("until=yesterday", "until"), ("sort=rowid;DROP", "sort"), ("order=sideways", "order"), ("page=0", "page"),
    ("per_page=100000", "per_page"), ("resolved=maybe", "resolved"), ("task=" + "x" * 600, "task"),
])
def test_a_bad_list_parameter_is_a_400_naming_it(client, query, named):
    r = client.get("/?" + query)
    assert r.status_code == 400
    assert re.search(rf'id="error-message">{named}:', r.text), r.text[-400:]


def test_unknown_episodes_tasks_and_pages_are_404_pages(client):
    assert client.get("/episodes/does-not-exist").status_code == 404
    assert client.get("/episodes/" + "x" * 200).status_code == 400
    assert client.get("/tasks/no_such_task").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    r = client.get("/compare?a=x")
    assert r.status_code == 400 and "two episodes" in r.text


def test_compare_refuses_episodes_of_different_tasks(tmp_path, recorded):
    from _episodes import oracle_episode

    from tracefix_rl.data.trajectories import SQLiteRecorder

    rec = SQLiteRecorder(tmp_path / "t.sqlite3")
    a, b = oracle_episode(rec), oracle_episode(rec, task="factorial_off_by_one")
    with TestClient(create_viewer_app(rec)) as c:
        r = c.get(f"/compare?a={a}&b={b}")
    assert r.status_code == 400 and "same task" in r.text
    rec.close()


def test_the_replay_api_needs_its_header_and_reports_the_verdict(client, recorded):
    _, ids = recorded
    url = f"/api/episodes/{ids['oracle']}/replay"
    refused = client.post(url)
    assert refused.status_code == 403 and REPLAY_HEADER[0] in refused.json()["detail"]
    ok = client.post(url, headers=dict([REPLAY_HEADER])).json()
    assert ok["verified"] is True and ok["summary"].startswith("VERIFIED")
    bad = client.post(f"/api/episodes/{ids['tampered']}/replay", headers=dict([REPLAY_HEADER])).json()
    assert bad["verified"] is False and bad["first_divergence"] == 4 and "len(arr) - 2" in bad["diff"]
    assert client.post("/api/episodes/nope/replay", headers=dict([REPLAY_HEADER])).status_code == 404


def test_the_episode_page_shows_every_part_of_a_step(client, recorded):
    _, ids = recorded
    html = client.get(f"/episodes/{ids['oracle']}").text
    for part in ('id="step-0"', 'id="step-6"', "Thought", "d-add", "d-del", 'class="tests"', "details class=\"trace\"",
                 "Observation the agent saw", "reward terms: fail_to_pass", "forkserver", "<svg class=\"chart\""):
        assert part in html, part


def test_the_list_pages_through_the_store(tmp_path):
    from tracefix_rl.data.trajectories import SQLiteRecorder

    rec = SQLiteRecorder(tmp_path / "many.sqlite3")
    manifest = {"task_name": "t", "difficulty": "easy"}
    for i in range(7):
        rec.insert_episode({**manifest, "episode_id": f"ep{i}"}, "h", {}, start_time=1000.0 + i)
    with TestClient(create_viewer_app(rec)) as c:
        first = c.get("/?per_page=3").text
        assert "page 1 of 3" in first and "ep6" in first and "ep3" not in first
        last = c.get("/?per_page=3&page=3").text
        assert "ep0" in last and "ep1" not in last and 'rel="next"' not in last
    rec.close()
