"""The viewer driven in headless Chromium: what a person clicks, what they see, and that no
request leaves the machine (every request is intercepted and checked by the ``page`` fixture)."""

from __future__ import annotations

import re

from _episodes import TAMPERED_STEP, XSS


def test_list_to_episode_to_step_shows_the_diff_and_the_failing_tests_values(view_url, recorded, page):
    _, ids = recorded
    p = page.page
    p.goto(view_url + "/")
    assert p.locator("#episode-count").inner_text() == str(len(ids))
    p.locator(f"a.episode-link[href$='{ids['oracle']}']").click()
    p.wait_for_url(re.compile(f"/episodes/{ids['oracle']}$"))
    assert p.locator("#episode-id").inner_text() == ids["oracle"]
    header = p.locator("#episode-header").inner_text()
    assert "binary_search_off_by_one" in header and "submitted" in header and "0.96" in header

    # the timeline row of the edit leads to its step: the diff lines
    p.locator("#timeline a", has_text="REPLACE_LINES 3-3").click()
    edit = p.locator("section#step-4")
    assert edit.locator("tr.d-del .src").inner_text() == "    right = len(arr)"
    assert edit.locator("tr.d-add .src").inner_text() == "    right = len(arr) - 1"
    assert edit.locator("tr.d-add td.ln").nth(1).inner_text() == "3"

    # the test run before the edit: the failing test's expected and actual values
    run = p.locator("section#step-2")
    row = run.locator("table.tests tr", has_text="test_missing_above_range")
    assert row.locator("td.expected").inner_text() == "-1"
    assert row.locator("td.actual").inner_text() == "raised IndexError: list index out of range"
    assert "t-error" in (row.get_attribute("class") or "")

    # the observation text is the stored one, folded until asked for
    obs = run.locator("details.observation")
    assert not obs.locator("pre.obs-output").is_visible()
    obs.locator("summary").click()
    assert obs.locator("pre.obs-output").inner_text().startswith("Tests Passed: 2/4")
    # the trace step shows the pretty trace, open
    assert "exception IndexError" in p.locator("section#step-3 details.trace pre").first.inner_text()


def _verify(p, url: str, verdict: str):
    """Open the episode page at ``url``, press "Verify replay", wait for the ``verdict`` box."""
    p.goto(url)
    p.locator("#verify").click()
    result = p.locator(f"#replay-result.{verdict}")
    result.wait_for(timeout=60_000)
    return result


def test_verify_shows_verified_on_a_clean_episode(view_url, recorded, page):
    _, ids = recorded
    result = _verify(page.page, f"{view_url}/episodes/{ids['oracle']}", "verified")
    assert result.locator(".verdict").inner_text() == "VERIFIED"
    assert "6 of 6 steps" in result.inner_text()


def test_verify_shows_the_diverging_step_of_a_tampered_episode(view_url, recorded, page):
    _, ids = recorded
    p = page.page
    result = _verify(p, f"{view_url}/episodes/{ids['tampered']}", "diverged")
    assert result.locator(".verdict").inner_text() == "DIVERGED"
    link = result.locator(f"a[href='#step-{TAMPERED_STEP}']")
    assert link.inner_text() == f"step {TAMPERED_STEP}"
    diff = result.locator("pre.replay-diff").inner_text()
    assert "len(arr) - 1" in diff and "len(arr) - 2" in diff
    link.click()
    assert p.evaluate("location.hash") == f"#step-{TAMPERED_STEP}"


def test_markup_written_by_the_agent_is_shown_as_text_and_never_runs(view_url, recorded, page):
    _, ids = recorded
    p = page.page
    p.goto(f"{view_url}/episodes/{ids['hostile']}")
    step = p.locator("section#step-1")
    assert step.locator(".thought pre").inner_text() == XSS
    assert XSS.replace('"', "'") in step.locator("table.diff").inner_text() or "<script>" in \
        step.locator("table.diff").inner_text()
    p.locator("section#step-2 details.observation summary").click()
    assert "<script>" in p.locator("section#step-2 pre.obs-output").inner_text()
    assert p.evaluate("typeof window.__xss") == "undefined"
    assert p.locator("img[src='x']").count() == 0 and p.locator("main script").count() == 0


def test_filters_sort_and_compare_in_the_browser(view_url, recorded, page):
    _, ids = recorded
    p = page.page
    p.goto(view_url + "/")
    p.select_option("select[name=resolved]", "yes")
    p.locator("form.filters button[type=submit]").click()
    p.wait_for_url(re.compile(r"resolved=yes"))
    shown = p.locator("a.episode-link").evaluate_all("links => links.map(a => a.href.split('/').pop())")
    assert sorted(shown) == sorted([ids["oracle"], ids["tampered"]])  # the stored verdicts

    p.goto(view_url + "/?resolved=no")
    assert p.locator("#episode-count").inner_text() == "1"
    p.goto(view_url + "/")
    p.locator("th a.sort", has_text="score").click()  # highest score first
    p.wait_for_url(re.compile(r"sort=final_score"))
    scores = p.locator("#episodes tbody tr td:nth-child(5)").all_inner_texts()
    assert scores[:3] == ["0.96", "0.96", "0.01"]

    compare = p.locator("#compare-button")
    assert compare.is_disabled()
    p.locator(f"input.pick[value='{ids['oracle']}']").check()
    p.locator(f"input.pick[value='{ids['tampered']}']").check()
    assert compare.is_enabled()
    compare.click()
    p.wait_for_url(re.compile(r"/compare\?"))
    heads = p.locator("#compare thead th a.mono").all_inner_texts()
    assert sorted(heads) == sorted([ids["oracle"][:12], ids["tampered"][:12]])
    assert p.locator("#compare > tbody > tr").count() == 7  # reset + 6 steps, side by side


def test_the_task_page_shows_the_agents_view_and_the_reference_behind_a_toggle(view_url, page):
    p = page.page
    p.goto(view_url + "/tasks")
    p.locator("#tasks a", has_text="binary_search_off_by_one").first.click()
    assert "right = len(arr)" in p.locator("#task-program").inner_text()
    solution = p.locator("#solution")
    assert not solution.locator("table.diff").is_visible()
    solution.locator("summary").click()
    assert solution.locator("table.diff tr.d-add .src").first.inner_text().strip() == "right = len(arr) - 1"
