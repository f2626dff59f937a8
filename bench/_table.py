"""The performance table: each figure now, before (when measured), its anchor from the same run,
the ratio to the anchor, the target and whether it is met."""

from __future__ import annotations

from typing import Any


def _row(figure: str, now: float | None, unit: str, *, before: float | None = None, anchor: str = "",
         anchor_value: float | None = None, target: float | None = None, op: str = "<=", note: str = "") -> dict[str, Any]:
    met = None if now is None or target is None else (now <= target if op == "<=" else now >= target)
    ratio = now / anchor_value if now is not None and anchor_value else None
    return {"figure": figure, "now": now, "before": before, "unit": unit, "anchor": anchor, "anchor_value": anchor_value,
            "ratio_to_anchor": ratio, "target": None if target is None else f"{op} {target:g} {unit}".strip(),
            "threshold": target, "met": met, "note": note}


def _get(d: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def performance_table(data: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: C901 - one block per figure
    """The rows, from the JSON files of one run (``targets``, ``fairness``, ``recording``, ``server``,
    ``task_build``); figures whose benchmark did not run are left out."""
    rows: list[dict[str, Any]] = []
    tg = data.get("targets")
    if tg:
        now, before = tg["now"], tg.get("before")
        rt = now["run_tests"]

        def p50(tree: dict[str, Any] | None, name: str) -> float | None:
            return _get(tree, "run_tests", name, "p50_ms")

        raw = rt["raw_sandbox_job"]["p50_ms"]
        rows.append(_row("one RUN_TESTS through the environment, recording on (p50)", p50(now, "env_recording_on"), "ms",
                         before=p50(before, "env_recording_on"), anchor="raw sandbox job", anchor_value=raw, target=3.0))
        rows.append(_row("one RUN_TESTS through the environment, recording off (p50)", p50(now, "env_recording_off"),
                         "ms", before=p50(before, "env_recording_off"), anchor="raw sandbox job", anchor_value=raw,
                         target=3.0))
        rows.append(_row("floor: pre-forked child of a lean interpreter, same job (p50)",
                         p50(now, "floor_preforked_lean_child"), "ms", anchor="raw sandbox job", anchor_value=raw))
        on = p50(now, "env_recording_on")
        for name, label in (("pytest_plain", "plain `python -m pytest`, no plugins (p50)"),
                            ("pytest_venv_plugins", "`python -m pytest` with this venv's plugins (p50)")):
            ms = p50(now, name)
            rows.append(_row(label, ms, "ms", anchor="RUN_TESTS, recording on", anchor_value=on,
                             note="ratio = how many times slower than one recorded RUN_TESTS"))
        rows.append(_row("debug-gym eval", None, "ms", target=None, note=str(now.get("debug_gym"))))
        cpu = now["cpu_per_job_ms"]
        rows.append(_row("CPU per sandbox job (servers + reaped children + caller)", cpu["sandbox_job"], "ms",
                         before=_get(before, "cpu_per_job_ms", "sandbox_job"),
                         anchor="unconfined pre-forked child of a similar interpreter",
                         anchor_value=cpu["unconfined_similar_child"], target=4.0))
        rows.append(_row("isolated runs per minute, 2 callers, 2 workers", now["runs_per_minute_2_callers"], "/min",
                         before=_get(before, "runs_per_minute_2_callers"), target=25000.0, op=">="))
        cpu_on, cpu_off = now["recorded_step_cpu_ms"]["recording_on"], now["recorded_step_cpu_ms"]["recording_off"]
        b_on = _get(before, "recorded_step_cpu_ms", "recording_on")
        rows.append(_row("CPU of one recorded REPLACE_LINES step (process, writer thread included)", cpu_on, "ms",
                         before=b_on, anchor="the same step unrecorded", anchor_value=cpu_off,
                         target=b_on / 2 if b_on else None,
                         note="target: half the figure before" if b_on else "target needs --before"))
        le = now["large_edit"]
        lines = int(now["large_edit_lines"])
        for key, label in (("recording_off", "recording off"), ("recording_on", "recording on")):
            rows.append(_row(f"REPLACE_LINES on a {lines:,}-line program, {label} (p50)", le[key]["p50_ms"], "ms",
                             before=_get(before, "large_edit", key, "p50_ms"),
                             target=10.0 if key == "recording_off" else None))
    fair = data.get("fairness")
    if fair:
        for r in fair.get("callers", []):
            rows.append(_row(f"{r['callers']} callers on {fair.get('workers')} workers: worst wait for a worker",
                             r["worst_wait_ms"], "ms", anchor="median job", anchor_value=r["median_service_ms"],
                             note=f"runs per caller {r['min_runs_per_caller']}-{r['max_runs_per_caller']}"))
            rows[-1]["met"] = r["worst_wait_x_median_job"] <= 10.0
            rows[-1]["target"] = "<= 10x median job"
    rc = data.get("recording")
    if rc:
        by = {r["tree"]: r for r in rc["rows"]}
        this = by.get("this tree")
        before_row = next((r for k, r in by.items() if k != "this tree"), None)
        if this:
            rows.append(_row(f"recording's cost in throughput, cheap steps over the server ({this['sessions']} sessions)",
                             this["recording_cost_pct"], "%", before=before_row and before_row["recording_cost_pct"],
                             anchor="steps/s recording off", anchor_value=None, target=15.0,
                             note=f"{this['steps_per_s_recording_on']:,.0f} vs {this['steps_per_s_recording_off']:,.0f} "
                                  "steps/s"))
            rows.append(_row("server CPU per recorded step (on - off)", this["cpu_ms_per_recorded_step"], "ms",
                             before=before_row and before_row["cpu_ms_per_recorded_step"],
                             anchor="server CPU per unrecorded step", anchor_value=this["server_cpu_ms_per_step_off"]))
    srv = data.get("server")
    if srv:
        by_sessions: dict[int, dict[str, Any]] = {}
        for r in srv["rows"]:
            by_sessions.setdefault(r["sessions"], {})[r["case"]] = r
        for sessions, cases in sorted(by_sessions.items()):
            if "VIEW_CODE" in cases and "echo" in cases:
                rows.append(_row(f"VIEW_CODE over WebSocket, recording on ({sessions} session{'s' if sessions > 1 else ''})",
                                 cases["VIEW_CODE"]["median_ms"], "ms", anchor="OpenEnv echo env",
                                 anchor_value=cases["echo"]["median_ms"], note="target: ratio <= 1.3"))
                rows[-1]["met"] = rows[-1]["ratio_to_anchor"] <= 1.3 if rows[-1]["ratio_to_anchor"] else None
                rows[-1]["target"] = "<= 1.3x echo"
    tb = data.get("task_build")
    if tb:
        r = tb["rows"][0]
        b = next((x for x in tb["rows"][1:]), None)
        rows.append(_row(f"task build ({r['tasks']:,} tasks)", r["tasks_per_min"], "tasks/min",
                         before=b and b["tasks_per_min"], target=3000.0, op=">=",
                         note=f"{r['candidates']:,} candidates, {r['wall_s']} s"
                              + (f"; hanging candidates {r['hanging_candidates_pct']:.1f}% of candidates, "
                                 f"{r['hang_time_pct']:.1f}% of validation time"
                                 if r.get("hang_time_pct") is not None else "")))
    return rows


def _num(v: float | None, unit: str = "") -> str:
    if v is None:
        return "–"
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{text} {unit}".strip() if unit and unit != "x" else text + ("x" if unit == "x" else "")


def table_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as a markdown table."""
    out = ["| figure | now | before | anchor (same run) | now ÷ anchor | target | met |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        anchor = f"{r['anchor']}: {_num(r['anchor_value'], r['unit'])}" if r["anchor_value"] is not None else (
            r["anchor"] or "–")
        ratio = f"{r['ratio_to_anchor']:.2f}x" if r["ratio_to_anchor"] is not None else "–"
        met = "–" if r["met"] is None else "yes" if r["met"] else "NO"
        note = f" ({r['note']})" if r["note"] else ""
        out.append(f"| {r['figure']}{note} | {_num(r['now'], r['unit'])} | {_num(r['before'], r['unit'])} | {anchor} | "
                   f"{ratio} | {r['target'] or '–'} | {met} |")
    return out
