"""``report.html`` is self-contained (no URL, script or external resource) and escapes run data."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tracefix_rl.evaluation import EpisodeResult, ExitStatus, build_report, render_html

HOSTILE = '<script>alert(1)</script><img src="https://evil.example/x.png">'


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self.svgs += tag == "svg"


def _rows(name: str) -> list[EpisodeResult]:
    rows = []
    for i, (tier, resolved, status) in enumerate([("easy", True, "submitted"), ("easy", False, "step_budget"),
                                                  ("hard", False, "parse_errors"), ("hard", False, "infra_error")]):
        rows.append(EpisodeResult(key=f"{name}{i}#0", task=f"{name}{i}", tier=tier, resolved=resolved,
                                  final_score=0.9 if resolved else 0.01, steps=5 + i, exit_status=ExitStatus(status),
                                  error=name if status == "infra_error" else None,
                                  actions={"RUN_TESTS": 2, "SUBMIT": 1}))
    return rows


def _page(name: str) -> str:
    rows = _rows(name)
    report = build_report(rows, [r.key for r in rows], samples=1,
                          config={"agent": {"kind": "llm", "model": name, "endpoint": "127.0.0.1:9/v1"}},
                          identity={"package_version": "x", "isolation": ["forkserver"]}, run={"id": "r"})
    return render_html(report)


def _no_references(page: str) -> _Scan:
    scan = _Scan()
    scan.feed(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "base"} & set(scan.tags)
    assert not [a for a in scan.attrs if a[0] in ("src", "href", "srcset", "action") or a[0].startswith("on")]
    assert "@import" not in page and "url(" not in page
    return scan


def test_the_page_needs_no_network():
    page = _page("task_")
    assert not re.search(r"https?:", page, re.I)
    assert _no_references(page).svgs == 5  # resolved by tier, scores, steps, action mix, exit statuses


def test_run_data_is_escaped():
    page = _page(HOSTILE)
    _no_references(page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "evil.example" in page  # shown as text, never as an attribute
