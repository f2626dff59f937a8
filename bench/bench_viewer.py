"""What the trajectory viewer costs: the episode page of a 200-step episode, list pages of a big store.

    python bench/bench_viewer.py [--quick] [--episodes N] [--json PATH]

Episode page: a real 200-step episode (viewing, test runs, edits, undos and traces of
``binary_search_off_by_one``, recorded through the environment into a real store) is served
by the viewer app (``create_viewer_app``, the ASGI app ``tracefix view`` runs) and fetched
over HTTP on loopback (uvicorn in this process); the anchors measured in the same run are the
store read alone (``load_episode``) and the page of a 6-step episode. With Debian's Chromium
present, the page is also loaded in headless Chromium (Playwright): navigation start to the
``load`` event, which includes parsing, layout and the inline SVG charts.

Episode list: ``N`` synthetic episodes (default 100,000; 10,000 with ``--quick``) bulk-written
into a schema-3 store, then the first page, a deep page, filtered and sorted pages, each
against the same page of a 5-episode store.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _common import emit, measure  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TASK = "binary_search_off_by_one"
CYCLE: list[dict[str, Any]] = [
    {"action_type": "VIEW_CODE", "thought": "look at the loop bounds"},
    {"action_type": "RUN_TESTS", "thought": "which tests fail now?"},
    {"action_type": "REPLACE_LINES", "start_line": 3, "end_line": 3, "new_code_block": "right = len(arr) - 1",
     "thought": "right must be the last index"},
    {"action_type": "RUN_TESTS"},
    {"action_type": "UNDO_EDIT", "thought": "trace it before keeping the edit"},
    {"action_type": "TRACE"},
]


def record_episode(rec: Any, steps: int, seed: int) -> str:
    """One episode of ``steps`` steps of :data:`CYCLE`, recorded into ``rec``."""
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.core.models import CodeAction
    from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=steps + 1)), rec)
    env.reset(task_name=TASK, seed=seed)
    for i in range(steps):
        env.step(CodeAction(**CYCLE[i % len(CYCLE)]))
    return str(env.state.episode_id)


def fill_store(path: Path, n: int) -> None:
    """``n`` finished episodes with varied tasks, tiers, scores, agents and start times."""
    from tracefix_rl.data.tasks import list_tasks
    from tracefix_rl.data.trajectories import TrajectoryStore

    TrajectoryStore(path).close()  # the schema, indexes included
    tasks = [(t.name, t.difficulty) for t in list_tasks()]
    rng = random.Random(0)
    rows = []
    for i in range(n):
        name, tier = tasks[i % len(tasks)]
        resolved = rng.random() < 0.4
        score = round(0.9 + rng.random() * 0.08, 2) if resolved else round(0.01 + rng.random() * 0.25, 2)
        rows.append((f"ep{i:07d}", name, tier, '{"format":"tracefix-trajectory/1"}', 1.7e9 + i * 7.0, score,
                     int(resolved), ("model-a", "model-b", "model-c")[i % 3], rng.randint(1, 50), 1,
                     int(rng.random() < 0.05), rng.uniform(-0.5, 1.0), "submitted"))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO episodes (episode_id, task_name, difficulty, manifest, start_time, final_score, "
                         "resolved, agent, total_steps, done, flag_count, cumulative_reward, end_reason) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()


class Served:
    """An ASGI app under uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def browser_load_ms(url: str, repeat: int) -> dict[str, float] | None:
    """Median and p99 of navigation start -> load event of ``url`` in headless Chromium (None without it)."""
    if not Path(CHROMIUM).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    samples = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for i in range(repeat + 2):
            page.goto(url, wait_until="load")
            nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            import json

            entry = json.loads(nav)
            if i >= 2:  # two warm-up loads
                samples.append(entry["loadEventEnd"] - entry["startTime"])
        browser.close()
    samples.sort()
    return {"median_ms": samples[len(samples) // 2], "p99_ms": samples[-1], "n": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--episodes", type=int, default=None, help="episodes in the big store")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    n_big = args.episodes or (10_000 if args.quick else 100_000)
    repeat = 5 if args.quick else 20

    import httpx

    from tracefix_rl.data.trajectories import SQLiteRecorder, TrajectoryStore
    from tracefix_rl.viewer import create_viewer_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    rows: list[dict[str, Any]] = []
    try:
        rec = SQLiteRecorder(tmp / "episodes.sqlite3")
        started = time.perf_counter()
        long_id = record_episode(rec, 200, seed=3)
        record_s = time.perf_counter() - started
        short_id = record_episode(rec, 6, seed=4)
        served = Served(create_viewer_app(rec))
        client = httpx.Client(base_url=served.url, timeout=60)
        page_bytes = {}

        def fetch(eid: str) -> None:
            r = client.get(f"/episodes/{eid}")
            assert r.status_code == 200
            page_bytes[eid] = len(r.content)

        store_read = measure(lambda: rec.load_episode(long_id), repeat=repeat, warmup=2)
        long_page = measure(lambda: fetch(long_id), repeat=repeat, warmup=2)
        short_page = measure(lambda: fetch(short_id), repeat=repeat, warmup=2)
        browser = browser_load_ms(f"{served.url}/episodes/{long_id}", repeat=max(3, repeat // 2))
        for what, m, size in (("episode page, 200 steps (HTTP)", long_page, page_bytes[long_id]),
                              ("episode page, 6 steps (HTTP)", short_page, page_bytes[short_id]),
                              ("store read alone, 200 steps (load_episode)", store_read, None)):
            rows.append({"case": what, "median_ms": m["median_ms"], "p99_ms": m["p99_ms"], "n": m["n"],
                         "kb": round(size / 1024, 1) if size else None,
                         "ratio_vs_store_read": m["median_ms"] / store_read["median_ms"]})
        if browser:
            rows.append({"case": "episode page, 200 steps, in Chromium (navigation -> load)", **browser,
                         "kb": round(page_bytes[long_id] / 1024, 1),
                         "ratio_vs_store_read": browser["median_ms"] / store_read["median_ms"]})
        client.close()
        served.close()
        rec.close()

        fill_store(tmp / "big.sqlite3", n_big)
        small = tmp / "small.sqlite3"
        fill_store(small, 5)
        big_store, small_store = TrajectoryStore(tmp / "big.sqlite3"), TrajectoryStore(small)
        big, little = Served(create_viewer_app(big_store)), Served(create_viewer_app(small_store))
        deep = max(1, n_big // 50 // 2)
        queries = [("first page", "/"), (f"page {deep} (offset {(deep - 1) * 50:,})", f"/?page={deep}"),
                   ("task + resolved filter", f"/?task={TASK}&resolved=yes"),
                   ("sorted by score", "/?sort=final_score"),
                   ("agent + score range, oldest first", "/?agent=model-b&min_score=0.5&order=asc")]
        with httpx.Client(base_url=big.url, timeout=60) as cb, httpx.Client(base_url=little.url, timeout=60) as cs:
            for label, path in queries:
                mb = measure(lambda p=path: cb.get(p).raise_for_status(), repeat=repeat, warmup=2)
                ms = measure(lambda p=path: cs.get(p.replace(f"page={deep}", "page=1")).raise_for_status(),
                             repeat=repeat, warmup=2)
                rows.append({"case": f"list, {n_big:,} episodes: {label}", "median_ms": mb["median_ms"],
                             "p99_ms": mb["p99_ms"], "n": mb["n"], "kb": None,
                             "ratio_vs_store_read": None, "ratio_vs_5_episodes": mb["median_ms"] / ms["median_ms"]})
        big.close()
        little.close()
        big_store.close()
        small_store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for r in rows:
        r.setdefault("ratio_vs_5_episodes", None)
    emit("viewer", rows, {"episode_steps": 200, "record_seconds": round(record_s, 2), "big_store_episodes": n_big,
                          "browser": bool(browser)}, args.json)


if __name__ == "__main__":
    main()
