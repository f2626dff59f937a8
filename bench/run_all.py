"""Run every benchmark, then aggregate the results into one report with the issue's targets.

    python bench/run_all.py [--quick] [--out-dir DIR] [--only env,sandbox,...] [--update-readme]

Each ``bench/bench_NAME.py`` runs in its own interpreter (one after the other, so they never
compete for the 2 cores) and writes ``DIR/NAME.json`` (``DIR`` defaults to ``bench/results``).
The aggregate goes to ``DIR/report.json``: machine details, isolation level, git commit, every
benchmark's rows, the headline figures with their same-run baselines as ratios, and the
``targets`` section (each Done-means target: measured, target, met, ratio). A summary table is
printed, and the step-latency plot is written to ``DIR/step_latency.png`` (matplotlib, Agg).
``--update-readme`` also copies the plot to ``docs/perf/step_latency.png`` and rewrites the
README's performance section (between ``<!-- performance:start -->`` and ``-end -->``).
``--quick`` finishes in under two minutes on the 2-core machine; it is what CI runs, as a smoke
test of the suite (no timing is asserted anywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import performance_table, table_markdown  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = ROOT / "README.md"
DOCS_PLOT = ROOT / "docs" / "perf" / "step_latency.png"
START, END = "<!-- performance:start -->", "<!-- performance:end -->"
# Benchmarks in run order; the cheap in-process ones first, the server and build ones last.
BENCHES = ["env", "trace", "trajectory", "sandbox", "targets", "fairness", "memory", "server", "recording", "fuzz",
           "soak", "task_build", "eval", "viewer", "ray"]
#: Benchmarks that also measure another checkout in the same run when ``--before DIR`` is given.
TAKES_BEFORE = {"targets", "recording", "task_build"}
ACTIONS = ["VIEW_CODE", "REPLACE_LINES", "UNDO_EDIT", "RUN_TESTS", "TRACE", "SUBMIT"]
NON_EXECUTING = ["VIEW_CODE", "REPLACE_LINES", "UNDO_EDIT"]


def run_benches(names: list[str], out_dir: Path, quick: bool, before: Path | None = None) -> dict[str, dict[str, Any]]:
    """Run ``bench_NAME.py`` for each name; returns ``{name: {"ok", "seconds"}}``."""
    status = {}
    for name in names:
        script = HERE / f"bench_{name}.py"
        cmd = [sys.executable, str(script), "--json", str(out_dir / f"{name}.json"), *(["--quick"] if quick else []),
               *(["--before", str(before)] if before is not None and name in TAKES_BEFORE else [])]
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        status[name] = {"ok": rc == 0, "seconds": round(time.perf_counter() - started, 1)}
    return status


def _load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def machine_details() -> dict[str, Any]:
    """Cores, CPU model, Python, kernel, load and memory of this machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {"cores": os.cpu_count(), "cpu": model, "memory_gb": mem_gb, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "kernel": platform.release(),
            "machine": platform.machine(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def git_commit() -> dict[str, Any] | None:
    """HEAD's commit and whether the tree has uncommitted changes (``None`` outside git)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def headline(data: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - one section per benchmark
    """The figures of the issue, each with its same-run baseline and ratio where there is one."""
    h: dict[str, Any] = {}
    env = data.get("env")
    if env:
        ops = _by(env["rows"], "operation")
        h["reset_ms"] = {k: ops["reset"][k] for k in ("median_ms", "p99_ms", "n")}
        h["in_process_step_ms"] = {a: {k: ops[a][k] for k in ("median_ms", "p99_ms", "n")}
                                   for a in ACTIONS if a in ops}
        h["scripted_episodes_per_minute"] = env["scripted_episodes_per_minute"]
    sb = data.get("sandbox")
    if sb:
        r = sb["runners"]
        fork = r["forkserver"]
        h["run_tests_job_ms"] = {
            name: {"median_ms": row["p50_ms"], "p99_ms": row["p99_ms"], "n": row["n"], "isolation": row["isolation"],
                   "ratio_vs_forkserver": row["p50_ratio_vs_forkserver"]}
            for name, row in r.items()}
        h["run_tests_throughput"] = {
            name: {"per_s": row["throughput_2_callers_per_s"], "per_minute": row["throughput_2_callers_per_s"] * 60,
                   "ratio_vs_forkserver": row["throughput_ratio_vs_forkserver"]}
            for name, row in r.items() if row["throughput_2_callers_per_s"]}
        h["run_tests_throughput"]["forkserver"]["callers"] = 2
        h["run_tests_throughput"]["forkserver"]["cores"] = sb["machine"]["cpus"]
        del fork
    fair = data.get("fairness")
    if fair:
        hostile = fair["hostile"]
        h["fairness_under_hostile_sessions"] = {
            "baseline_jobs_per_s": hostile["baseline"]["jobs_per_s"], "attacked_jobs_per_s": hostile["attacked"]["jobs_per_s"],
            "throughput_ratio": hostile["throughput_ratio"], "baseline_p99_ms": hostile["baseline"]["p99_ms"],
            "attacked_p99_ms": hostile["p99_ms"], "p99_ratio_vs_baseline": hostile["p99_ratio_vs_baseline"],
            "sessions": 4, "hostile_sessions": 2, "workers": fair["workers"], "window_s": fair["window_s"]}
        h["callers_beyond_workers"] = [
            {k: row[k] for k in ("callers", "jobs_per_s", "worst_wait_ms", "median_service_ms", "worst_wait_x_median_job",
                                 "min_runs_per_caller", "max_runs_per_caller")} for row in fair["callers"]]
    srv = data.get("server")
    if srv:
        ws: dict[str, dict[str, Any]] = {}
        for row in srv["rows"]:
            ws.setdefault(str(row["sessions"]), {})[row["case"]] = {
                k: row[k] for k in ("median_ms", "p99_ms", "steps", "steps_per_s")}
        for per_case in ws.values():
            echo = per_case.get("echo", {}).get("median_ms")
            for row in per_case.values():
                row["ratio_vs_echo"] = row["median_ms"] / echo if echo else None
        h["websocket_step_ms"] = ws
        h["websocket_recording"] = srv.get("recording")
    tr = data.get("trace")
    if tr:
        h["tracing"] = {"untraced_median_ms": tr["untraced_ms"]["median"], "untraced_p99_ms": tr["untraced_ms"]["p99"],
                        "traced_median_ms": tr["traced_ms"]["median"], "traced_p99_ms": tr["traced_ms"]["p99"],
                        "frames": tr["frames"], "ratio_vs_untraced": tr["ratio_median"]}
    traj = data.get("trajectory")
    if traj:
        h["recording_overhead"] = [{k: r[k] for k in ("action", "recording", "median_ms", "p99_ms",
                                                      "overhead_median_ms", "n")} for r in traj["rows"]]
        for r in h["recording_overhead"]:
            base = next(b for b in traj["rows"] if b["action"] == r["action"] and b["recording"] == "none")
            r["ratio_vs_no_recorder"] = r["median_ms"] / base["median_ms"]
    rep = data.get("trajectory.replay")
    if rep:
        h["replay"] = [{k: r[k] for k in ("episodes", "verified", "steps", "replay_steps_per_s", "record_steps_per_s")}
                       for r in rep["rows"]]
    mem = data.get("memory")
    if mem:
        h["memory_per_idle_session_mb"] = {k: mem[k] for k in mem if k.endswith("_per_session")}
        h["memory_per_idle_session_mb"]["sessions"] = mem["sessions"]
        h["memory_points"] = mem["rows"]
    tb = data.get("task_build")
    if tb:
        h["task_build"] = tb["rows"][0]
    fz = data.get("fuzz")
    if fz:
        ws, http = fz.get("ws", {}), fz.get("http", {})
        st = fz.get("schemathesis") or {}
        h["fuzz"] = {
            "ws_messages": ws.get("messages"), "ws_sessions_ended": ws.get("sessions_killed"),
            "ws_unnamed_errors": ws.get("unnamed"), "ws_accepted_malformed": ws.get("accepted_malformed"),
            "ws_episode_disturbed": ws.get("episode_disturbed"), "ws_stalls": ws.get("stalls"),
            "http_requests": http.get("requests"), "http_5xx": http.get("server_errors"),
            "http_unnamed_4xx": http.get("unnamed_4xx"), "http_transport_errors": http.get("transport_errors"),
            "schemathesis_cases": st.get("cases"), "schemathesis_5xx": st.get("failures"),
            "big_frame": fz.get("big_frame"),
        }
    rc = data.get("recording")
    if rc:
        h["recording_cost"] = rc["rows"]
    sk = data.get("soak")
    if sk:
        h["soak"] = {k: v for k, v in sk["summary"].items() if k not in ("rss_samples", "error_examples")}
        h["soak"]["per_action"] = sk["rows"]
    ev = data.get("eval")
    if ev:
        h["eval_episodes_per_minute"] = [
            {k: r[k] for k in ("agent", "workers", "episodes", "episodes_per_minute", "ratio_vs_1_worker")}
            for r in ev["rows"]]
    vw = data.get("viewer")
    if vw:
        h["viewer"] = {"rows": vw["rows"], "big_store_episodes": vw["big_store_episodes"],
                       "episode_steps": vw["episode_steps"]}
    rp = data.get("ray")
    if rp and rp.get("rows"):
        h["ray_pool"] = {"episodes": rp["rows"], "step_latency": rp["latency"], "hosts": rp["hosts"],
                         "cpus_per_host": rp["cpus_per_host"], "ray_init_s": rp["ray_init_s"],
                         "pool_start_s": rp["pool_start_s"]}
    return h


def _target(name: str, measured: float | None, target: float, op: str, unit: str, note: str = "") -> dict[str, Any]:
    met = None if measured is None else (measured <= target if op == "<=" else measured >= target)
    ratio = None if measured is None or target == 0 else measured / target
    return {"target": name, "measured": measured, "goal": f"{op} {target:g} {unit}".strip(), "threshold": target,
            "unit": unit, "met": met, "ratio_to_target": ratio, "note": note}


def targets(h: dict[str, Any]) -> list[dict[str, Any]]:
    """Each Done-means target of the issue with the measured value and whether it is met."""
    out = []
    jobs = h.get("run_tests_job_ms", {})
    fork = jobs.get("forkserver", {}).get("median_ms")
    out.append(_target("isolated RUN_TESTS median (fork-server job, back to back)", fork, 3.0, "<=", "ms",
                       "sandbox job incl. parent-side encode/decode; the env step adds judging"))
    pytest_ms = jobs.get("pytest", {}).get("median_ms")
    out.append(_target("RUN_TESTS speed-up vs subprocess + python -m pytest (same run)",
                       pytest_ms / fork if fork and pytest_ms else None, 100.0, ">=", "x"))
    steps = h.get("in_process_step_ms", {})
    for action in NON_EXECUTING:
        ms = steps.get(action, {}).get("median_ms")
        out.append(_target(f"{action} in-process median (recording off)", None if ms is None else ms * 1000,
                           100.0, "<=", "us"))
    ws = h.get("websocket_step_ms", {})
    for sessions in ("1", "16"):
        row = ws.get(sessions, {}).get("VIEW_CODE", {})
        out.append(_target(f"WebSocket VIEW_CODE round trip / OpenEnv echo env ({sessions} session"
                           f"{'s' if sessions != '1' else ''})", row.get("ratio_vs_echo"), 1.5, "<=", "x",
                           "server recording trajectories (its default)" if h.get("websocket_recording") else ""))
    for sessions in ("1", "16"):
        row = ws.get(sessions, {}).get("VIEW_CODE, recording off", {})
        out.append(_target(f"WebSocket VIEW_CODE round trip / OpenEnv echo env, server recording off ({sessions} "
                           f"session{'s' if sessions != '1' else ''})", row.get("ratio_vs_echo"), 1.5, "<=", "x",
                           "the transport alone: TRACEFIX_RECORD=0"))
    thr = h.get("run_tests_throughput", {}).get("forkserver", {})
    out.append(_target(f"isolated RUN_TESTS per minute ({thr.get('cores', '?')} cores, 2 callers)",
                       thr.get("per_minute"), 20000.0, ">=", "/min"))
    fair = h.get("fairness_under_hostile_sessions", {})
    out.append(_target("RUN_TESTS throughput of 4 sessions while 2 sessions run sleep/spin/fork-bomb programs, "
                       "/ without them", fair.get("throughput_ratio"), 1 / 3, ">=", "x"))
    out.append(_target("RUN_TESTS p99 of those 4 sessions under that attack", fair.get("attacked_p99_ms"), 1000.0,
                       "<=", "ms", "None: not one job finished in the window"))
    worst = max((r["worst_wait_x_median_job"] for r in h.get("callers_beyond_workers", [])), default=None)
    out.append(_target("callers beyond the workers (4/8/16): worst wait for a worker / median job time", worst,
                       10.0, "<=", "x", "first come, first served"))
    rc = [r for r in h.get("recording_cost", []) if r["tree"] == "this tree"]
    if rc:
        out.append(_target(f"recording's cost in throughput, cheap steps over the server ({rc[0]['sessions']} sessions)",
                           rc[0]["recording_cost_pct"], 15.0, "<=", "%",
                           f"{rc[0]['steps_per_s_recording_on']:.0f} vs {rc[0]['steps_per_s_recording_off']:.0f} steps/s"))
    fz = h.get("fuzz")
    if fz:
        bad = [fz.get(k) for k in ("http_5xx", "ws_sessions_ended", "schemathesis_5xx")]
        out.append(_target(f"fuzz: responses >= 500 and sessions ended ({fz['ws_messages']} WS messages, "
                           f"{fz['http_requests']} HTTP requests, {fz.get('schemathesis_cases') or 0} schemathesis)",
                           float(sum(b or 0 for b in bad)), 0.0, "<=", ""))
        out.append(_target("fuzz: errors not naming the field or frame problem, malformed input accepted",
                           float(sum(fz.get(k) or 0 for k in ("ws_unnamed_errors", "http_unnamed_4xx",
                                                               "ws_accepted_malformed"))), 0.0, "<=", ""))
    vw = h.get("viewer")
    if vw:
        pages = {r["case"]: r for r in vw["rows"]}
        served = pages.get(f"episode page, {vw['episode_steps']} steps (HTTP)", {})
        shown = pages.get(f"episode page, {vw['episode_steps']} steps, in Chromium (navigation -> load)")
        out.append(_target(f"viewer: episode page of a {vw['episode_steps']}-step episode, served over HTTP",
                           served.get("median_ms"), 1000.0, "<=", "ms",
                           f"{served.get('ratio_vs_store_read', 0):.1f}x the store read alone"))
        out.append(_target("viewer: the same page loaded in headless Chromium (navigation to load event)",
                           shown["median_ms"] if shown else None, 1000.0, "<=", "ms",
                           "" if shown else "None: no Chromium on this machine"))
        lists = [r for r in vw["rows"] if r["case"].startswith("list,")]
        out.append(_target(f"viewer: slowest episode-list page of {vw['big_store_episodes']:,} episodes",
                           max((r["median_ms"] for r in lists), default=None), 1000.0, "<=", "ms"))
    sk = h.get("soak")
    if sk:
        out.append(_target(f"soak: errors and returned steps missing from the store ({sk['sessions']} sessions, "
                           f"{sk['seconds']:.0f} s, {sk['steps']:,} steps)",
                           float(sk["errors"] + sk["lost_steps"] + (sk["integrity_check"] != "ok")), 0.0, "<=", ""))
        out.append(_target("soak: server RSS growth after warm-up", sk.get("rss_growth_after_warmup_pct"), 10.0,
                           "<=", "%"))
    return out


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return text + (f" {unit}" if unit else "")
    return str(v)


def print_targets(report: dict[str, Any]) -> None:
    """The targets as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Done-means targets ({'quick' if report['quick'] else 'full'} run)")
    for col in ("target", "measured", "goal", "met", "measured / goal"):
        table.add_column(col)
    for t in report["targets"]:
        table.add_row(t["target"], _fmt(t["measured"], t["unit"]), t["goal"],
                      _fmt(t["met"]), _fmt(t["ratio_to_target"]))
    Console(width=150).print(table)


def plot(report: dict[str, Any], path: Path) -> Path | None:
    """Log-scale bars of median step latency per action (in-process, WebSocket) vs the baselines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    h = report["headline"]
    steps = h.get("in_process_step_ms", {})
    ws1 = h.get("websocket_step_ms", {}).get("1", {})
    jobs = h.get("run_tests_job_ms", {})
    bars: list[tuple[str, float, str]] = []
    for a in ACTIONS:
        if a in steps:
            bars.append((f"{a} in-process", steps[a]["median_ms"], "tab:blue"))
        if a in ws1:
            bars.append((f"{a} WebSocket", ws1[a]["median_ms"], "tab:cyan"))
    if "echo" in ws1:
        bars.append(("OpenEnv echo env, WebSocket", ws1["echo"]["median_ms"], "tab:gray"))
    for key, label in (("python -S -I", "fresh python -S -I per run"), ("pytest", "subprocess + python -m pytest")):
        if key in jobs:
            bars.append((label, jobs[key]["median_ms"], "tab:red"))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(bars) + 1.4))
    labels = [b[0] for b in bars][::-1]
    values = [b[1] for b in bars][::-1]
    ax.barh(labels, values, color=[b[2] for b in bars][::-1])
    ax.set_xscale("log")
    ax.set_xlabel("median latency per step / run (ms, log scale)")
    m = report["machine"]
    ax.set_title(f"TraceFix-RL step latency vs baselines — {m['cores']} cores, CPython {m['python']}, "
                 f"{report.get('isolation') or '?'}", fontsize=9)
    for y, v in enumerate(values):
        ax.text(v * 1.08, y, f"{v * 1000:.0f} µs" if v < 1 else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms",
                va="center", fontsize=7)
    ax.set_xlim(min(values) / 2, max(values) * 4)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v * 1000:.0f} µs" if v < 1 else f"{v:.2f} ms" if v < 100 else f"{v:,.0f} ms"


def _x(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}×" if v >= 10 else f"{v:.2f}×"


def readme_section(report: dict[str, Any]) -> str:  # noqa: C901 - one table row per figure
    """The README performance section (markdown) for ``report``."""
    h, m = report["headline"], report["machine"]
    git = report.get("git") or {}
    lines = [
        "## Performance",
        "",
        f"Measured with `python bench/run_all.py{' --quick' if report['quick'] else ''}` on {m['cores']} cores "
        f"({m['cpu'] or m['machine']}), CPython {m['python']}, Linux {m['kernel']}, isolation "
        f"`{report.get('isolation')}`, commit `{(git.get('commit') or '?')[:10]}{' +changes' if git.get('dirty') else ''}`, "
        f"{report['generated']}. Medians and p99 over repeated runs, warm-up excluded; every baseline is "
        "measured in the same run and reported as a ratio. In-process steps run `binary_search_off_by_one` "
        "with trajectory recording off (its cost is a separate row); WebSocket steps run `task2_medium` on "
        "the real server with its default recording on, driven by OpenEnv's client on the same machine.",
        "",
        "### Each figure against its anchor",
        "",
        *table_markdown(report.get("table") or []),
        "",
        "### Targets",
        "",
        "| target | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {_fmt(t['measured'], t['unit'])} | {t['goal']} | {_fmt(t['met'])} |")
    lines += ["", "### Step latency", "", "| step | in-process median | p99 | WebSocket median (1 session) | "
              "WS ÷ echo env | WebSocket median (16 sessions) |", "|---|---|---|---|---|---|"]
    steps = h.get("in_process_step_ms", {})
    ws = h.get("websocket_step_ms", {})
    if "reset_ms" in h:
        lines.append(f"| reset | {_ms(h['reset_ms']['median_ms'])} | {_ms(h['reset_ms']['p99_ms'])} | – | – | – |")
    for a in ACTIONS:
        s = steps.get(a, {})
        w1, w16 = ws.get("1", {}).get(a, {}), ws.get("16", {}).get(a, {})
        lines.append(f"| {a} | {_ms(s.get('median_ms'))} | {_ms(s.get('p99_ms'))} | {_ms(w1.get('median_ms'))} | "
                     f"{_x(w1.get('ratio_vs_echo'))} | {_ms(w16.get('median_ms'))} |")
    nr = "VIEW_CODE, recording off"
    if nr in ws.get("1", {}):
        w1, w16 = ws["1"][nr], ws.get("16", {}).get(nr, {})
        lines.append(f"| VIEW_CODE, server recording off | – | – | {_ms(w1['median_ms'])} | "
                     f"{_x(w1['ratio_vs_echo'])} | {_ms(w16.get('median_ms'))} |")
    if "echo" in ws.get("1", {}):
        lines.append(f"| *OpenEnv echo env (baseline)* | – | – | {_ms(ws['1']['echo']['median_ms'])} | 1.00× | "
                     f"{_ms(ws.get('16', {}).get('echo', {}).get('median_ms'))} |")
    jobs = h.get("run_tests_job_ms", {})
    if jobs:
        lines += ["", "### RUN_TESTS runners (same program, same 4 tests)", "",
                  "| runner | isolation | median | p99 | × fork-server |", "|---|---|---|---|---|"]
        for name, row in jobs.items():
            lines.append(f"| {name} | {row['isolation']} | {_ms(row['median_ms'])} | {_ms(row['p99_ms'])} | "
                         f"{_x(row['ratio_vs_forkserver'])} |")
    lines += ["", "### Throughput, overheads, memory", "", "| figure | value | baseline / ratio |", "|---|---|---|"]
    thr = h.get("run_tests_throughput", {})
    if "forkserver" in thr:
        pytest_thr = thr.get("pytest", {}).get("per_minute")
        lines.append(f"| isolated RUN_TESTS throughput, 2 callers | {thr['forkserver']['per_minute']:,.0f} / min | "
                     f"subprocess + pytest {pytest_thr or 0:,.0f} / min |")
    if "scripted_episodes_per_minute" in h:
        lines.append(f"| scripted (oracle) episodes, 1 process | {h['scripted_episodes_per_minute']:,.0f} / min | – |")
    if "tracing" in h:
        t = h["tracing"]
        lines.append(f"| tracing a 1,000-iteration loop ({t['frames']:,} frames) | {_ms(t['traced_median_ms'])} | "
                     f"untraced {_ms(t['untraced_median_ms'])}: {_x(t['ratio_vs_untraced'])} |")
    for r in h.get("recording_overhead", []):
        if r["recording"] != "none":
            lines.append(f"| recording overhead, {r['action']}, {r['recording']} | +{_ms(r['overhead_median_ms'])} "
                         f"per step | {_x(r['ratio_vs_no_recorder'])} the unrecorded step |")
    for r in h.get("replay", []):
        lines.append(f"| replay verification, {r['episodes']} | {r['replay_steps_per_s']:,.0f} steps/s | "
                     f"recording {r['record_steps_per_s']:,.0f} steps/s |")
    fair = h.get("fairness_under_hostile_sessions")
    if fair:
        lines.append(f"| RUN_TESTS of 4 sessions while 2 sessions run hostile programs | "
                     f"{fair['attacked_jobs_per_s']:,.0f} / s, p99 {_ms(fair['attacked_p99_ms'])} | alone "
                     f"{fair['baseline_jobs_per_s']:,.0f} / s: {_x(fair['throughput_ratio'])} |")
    for r in h.get("callers_beyond_workers", []):
        lines.append(f"| {r['callers']} callers back to back: worst wait for a worker | {_ms(r['worst_wait_ms'])} | "
                     f"{_x(r['worst_wait_x_median_job'])} a median job; runs per caller "
                     f"{r['min_runs_per_caller']}-{r['max_runs_per_caller']} |")
    for r in h.get("eval_episodes_per_minute", []):
        ratio = f"{r['ratio_vs_1_worker']:.2f}× 1 worker" if r["ratio_vs_1_worker"] is not None else "–"
        lines.append(f"| `tracefix eval` episodes, {r['agent']}, {r['workers']} worker{'s' if r['workers'] > 1 else ''} "
                     f"({r['episodes']} episodes) | {r['episodes_per_minute']:,.0f} / min | {ratio} |")
    rp = h.get("ray_pool")
    for r in (rp or {}).get("episodes", []):
        lines.append(f"| oracle episodes, {r['setup']} ({r['episodes']} episodes, recorded) | "
                     f"{r['episodes_per_minute']:,.0f} / min, {r['steps_per_s']:,.0f} steps/s | "
                     f"{r['ratio_vs_in_process']:.2f}× in-process 1 loop |")
    for r in (rp or {}).get("step_latency", []):
        lines.append(f"| {r['action']} through the Ray pool (actor round trip, recorded) | "
                     f"{_ms(r['pool_median_ms'])} median, p99 {_ms(r['pool_p99_ms'])} | in-process "
                     f"{_ms(r['in_process_median_ms'])}: {_x(r['ratio_pool_vs_in_process'])} |")
    mem = h.get("memory_per_idle_session_mb")
    if mem:
        lines.append(f"| memory per idle WebSocket session ({mem['sessions']} sessions) | "
                     f"{mem['server_rss_mb_per_session']:.2f} MB server RSS | whole process tree "
                     f"{mem['tree_pss_mb_per_session']:.2f} MB PSS |")
    for r in h.get("recording_cost", []):
        lines.append(f"| recording's cost, cheap steps over the server ({r['sessions']} sessions, {r['tree']}) | "
                     f"{r['steps_per_s_recording_on']:,.0f} steps/s recording, {r['steps_per_s_recording_off']:,.0f} "
                     f"not (-{r['recording_cost_pct']:.0f}%) | +{r['cpu_ms_per_recorded_step']:.2f} ms server CPU "
                     "per recorded step |")
    fz, sk = h.get("fuzz"), h.get("soak")
    if fz or sk:
        lines += ["", "### Fuzz and soak (the real server on loopback)", "", "| figure | value |", "|---|---|"]
    if fz:
        lines += [
            f"| malformed WebSocket messages | {fz['ws_messages']:,}: {fz['ws_sessions_ended']} sessions ended, "
            f"{fz['ws_unnamed_errors']} errors not naming the problem, {fz['ws_accepted_malformed']} accepted |",
            f"| malformed HTTP requests | {fz['http_requests']:,}: {fz['http_5xx']} responses >= 500, "
            f"{fz['http_unnamed_4xx']} 4xx not naming the field, {fz['http_transport_errors']} broken connections |",
        ]
        if fz.get("schemathesis_cases"):
            lines.append(f"| schemathesis cases (`not_a_server_error`) | {fz['schemathesis_cases']:,}: "
                         f"{fz['schemathesis_5xx']} failures |")
        bf = fz.get("big_frame")
        if bf:
            lines.append(f"| one {bf['mib']:g} MiB frame | {bf['outcome'][:60]}; slowest step of 4 other sessions "
                         f"meanwhile {_ms(bf['worst_other_step_s'] * 1000)} |")
    if sk:
        lines += [
            f"| soak: {sk['sessions']} sessions for {sk['seconds']:.0f} s | {sk['steps']:,} steps "
            f"({sk['steps_per_s']:.0f} /s), {sk['episodes']:,} episodes, {sk['errors']} errors, "
            f"{sk['lost_steps']} returned steps missing, integrity {sk['integrity_check']} |",
            f"| soak: server RSS | {sk['rss_after_warmup_mb']} MB after warm-up, {sk['rss_end_mb']} MB at the end "
            f"({sk['rss_growth_after_warmup_pct']:+.1f}%) |",
            f"| store size per step | {sk['db_bytes_per_step']:,.0f} B on disk, of which the compressed full "
            f"observation {sk.get('observation_bytes_per_step') or 0:,.0f} B |",
        ]
        per = {r["action"]: r for r in sk.get("per_action", [])}
        if per:
            lines.append("| soak p50 / p99 per action | " + ", ".join(
                f"{a} {_ms(r['p50_ms'])} / {_ms(r['p99_ms'])}" for a, r in sorted(per.items())) + " |")
    lines += [
        "",
        "![median step latency per action, in-process and over the WebSocket, against the baselines]"
        "(docs/perf/step_latency.png)",
        "",
        "### Reproduce",
        "",
        "```bash",
        ".venv/bin/pip install -e '.[dev]'      # matplotlib is in the dev extra (for the plot)",
        ".venv/bin/python bench/run_all.py --quick   # < 2 minutes; CI runs this as a smoke test",
        ".venv/bin/python bench/run_all.py --update-readme   # full run; rewrites this section and the plot",
        "git archive REV | tar -x -C /tmp/before   # an earlier commit, then measure it in the same run:",
        ".venv/bin/python bench/run_all.py --only targets,recording,task_build --before /tmp/before",
        "```",
        "",
        "Results go to `bench/results/` (`report.json` aggregates every benchmark; one JSON per "
        "`bench/bench_*.py`, each of which also runs on its own with `--quick` / `--json PATH`). "
        "Timings move by up to ~2× on a busy 2-core machine; compare the ratios, which are measured "
        "in the same run.",
    ]
    return "\n".join(lines)


def update_readme(section: str, readme: Path = README) -> bool:
    """Replace the text between the performance markers of ``readme``; False if they are missing."""
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"{readme}: performance markers not found; not updated")
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{section}\n{END}{tail}")
    print(f"updated {readme}")
    return True


def build_report(out_dir: Path, quick: bool, status: dict[str, Any]) -> dict[str, Any]:
    """Aggregate the JSON files of this run in ``out_dir`` into the report."""
    data = {name: d for name in [*BENCHES, "trajectory.replay"] if (d := _load(out_dir, name)) is not None}
    isolation = (data.get("env") or {}).get("isolation") or (data.get("sandbox") or {}).get("isolation")
    h = headline(data)
    return {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick, "machine": machine_details(), "isolation": isolation, "git": git_commit(),
        "benchmarks_run": status, "table": performance_table(data), "targets": targets(h), "headline": h,
        "benchmarks": data,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, write ``report.json`` (and the plot), print the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions: < 2 minutes (the CI smoke run)")
    ap.add_argument("--out-dir", type=Path, default=HERE / "results", help="where the JSON files go")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHES)}")
    ap.add_argument("--no-run", action="store_true", help="only re-aggregate the JSON files already in --out-dir")
    ap.add_argument("--before", type=Path, default=None,
                    help="a checkout of an earlier commit, measured in the same run by " + ", ".join(sorted(TAKES_BEFORE)))
    ap.add_argument("--update-readme", action="store_true",
                    help="rewrite the README performance section and docs/perf/step_latency.png")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or BENCHES
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        ap.error(f"unknown benchmarks: {', '.join(unknown)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.no_run:
        status: dict[str, Any] = {}
    else:
        for name in names:  # never aggregate a stale file from an earlier run
            for stale in (args.out_dir / f"{name}.json", args.out_dir / f"{name}.replay.json"):
                stale.unlink(missing_ok=True)
        status = run_benches(names, args.out_dir, args.quick, args.before)
    report = build_report(args.out_dir, args.quick, status)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    png = plot(report, args.out_dir / "step_latency.png")
    report["plot"] = str(png) if png else None
    path = args.out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2))
    print()
    print("\n".join(table_markdown(report["table"])))
    print()
    print_targets(report)
    print(f"wrote {path} ({report['total_seconds']} s)")
    if args.update_readme:
        if png:
            DOCS_PLOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, DOCS_PLOT)
            print(f"wrote {DOCS_PLOT}")
        update_readme(readme_section(report))
    failed = [n for n, s in status.items() if not s["ok"]]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
