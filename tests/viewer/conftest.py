"""Fixtures of the viewer's tests: a real store of recorded episodes, the real ``tracefix view``
process serving it, and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (ROOT, HERE, HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _episodes import TAMPERED_STEP, make_store, oracle_episode, tamper_edit  # noqa: E402
from _live_server import free_port, stop, wait_ready  # noqa: E402

#: The browser the tests drive: Debian's package (never a downloaded build).
CHROMIUM = os.environ.get("TRACEFIX_CHROMIUM", "/usr/bin/chromium")
#: As the machine notes say: no background networking, no first-run, no GPU; root needs --no-sandbox.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions"]


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A store with an oracle fix, an unresolved submit, a hostile episode and a tampered fix."""
    from tracefix_rl.data.trajectories import SQLiteRecorder

    db = tmp_path_factory.mktemp("viewer") / "trajectories.sqlite3"
    ids = make_store(db)
    rec = SQLiteRecorder(db, agent="oracle")
    ids["tampered"] = oracle_episode(rec, seed=5)
    rec.close()
    tamper_edit(db, ids["tampered"], TAMPERED_STEP)
    return db, ids


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status == 200


@pytest.fixture(scope="session")
def view_url(recorded, tmp_path_factory) -> Iterator[str]:
    """``tracefix view --db STORE --port N``, the real command, with its default bind address."""
    db, _ = recorded
    port = free_port()
    log = tmp_path_factory.mktemp("view") / "view.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tracefix_rl.cli.main", "view", "--db", str(db),
                                 "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, log, lambda: _answers(url + "/"))
        yield url
    finally:
        stop(proc)


def _browser_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = (f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium) "
               "or set TRACEFIX_CHROMIUM")
    if os.environ.get("CI") or os.environ.get("TRACEFIX_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " -- CI must run the browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium under Playwright (skipped locally without the binary; a failure under
    ``CI`` or ``TRACEFIX_REQUIRE_BROWSER=1``, which ``./run test`` sets)."""
    path = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A fresh browser page whose every request is checked to stay on this machine."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.requests: list[str] = []
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        self.requests.append(url)
        host = urlparse(url).hostname
        if url.startswith("data:") or host == "127.0.0.1":
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.elsewhere.append(url)
            route.abort()  # type: ignore[attr-defined]


@pytest.fixture
def page(browser) -> Iterator[Page]:
    """A page; after the test, every request it made went to 127.0.0.1 and no script failed."""
    p = Page(browser)
    try:
        yield p
    finally:
        p.context.close()
    assert p.requests, "the page made no request at all"
    assert p.elsewhere == [], f"requests left the machine: {p.elsewhere}"
    assert p.errors == [], f"script errors or dialogs: {p.errors}"
