"""``report.html``: the report as one self-contained page with inline SVG plots.

No scripts, no external stylesheets, fonts or images, no URLs at all: the page renders
offline from the file alone. Every string that comes from a run (task names, model names,
error messages) is HTML-escaped, so nothing a model or a task says can inject markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from tracefix_rl.evaluation._schema import EvalReport

__all__ = ["bar_chart", "histogram", "render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#666}.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}.card b{display:block;font-size:1.5em}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37}.bad{color:#b42318}
.plots{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-weight:600;margin-bottom:.3em}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def bar_chart(items: Sequence[tuple[str, float, str]], *, max_value: float | None = None, width: int = 460,
              color: str = "#4c78a8") -> str:
    """Horizontal bars as an SVG element: ``(label, value, text shown after the bar)`` per row."""
    if not items:
        return "<p class=sub>no data</p>"
    top = max_value or max((v for _, v, _ in items), default=0) or 1
    row, label_w, text_w = 22, 150, 90
    bar_w = width - label_w - text_w
    parts = [f'<svg width="{width}" height="{row * len(items) + 6}" role="img">']
    for i, (label, value, text) in enumerate(items):
        y = i * row + 3
        w = max(0.0, min(1.0, value / top)) * bar_w
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(label[:24])}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
                     f'<text x="{label_w + w + 5:.1f}" y="{y + 15}" font-size="12">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(bins: Sequence[dict[str, float]], *, xlabel: str, width: int = 460, height: int = 180,
              color: str = "#72b7b2") -> str:
    """Vertical bars as an SVG element for ``{lo, hi, count}`` bins, with the axis range and peak."""
    if not bins or not any(b["count"] for b in bins):
        return "<p class=sub>no data</p>"
    top = max(b["count"] for b in bins)
    left, plot_h = 34, height - 44
    bar = (width - left - 10) / len(bins)
    parts = [f'<svg width="{width}" height="{height}" role="img">',
             f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#999"/>',
             f'<text x="{left - 4}" y="16" text-anchor="end" font-size="11">{int(top)}</text>',
             f'<text x="{left - 4}" y="{10 + plot_h}" text-anchor="end" font-size="11">0</text>']
    for i, b in enumerate(bins):
        h = plot_h * b["count"] / top
        x = left + i * bar
        parts.append(f'<rect x="{x + 1:.1f}" y="{10 + plot_h - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                     f'fill="{color}"><title>{_e(b["lo"])}–{_e(b["hi"])}: {int(b["count"])}</title></rect>')
    lo, hi = bins[0]["lo"], bins[-1]["hi"]
    parts.append(f'<text x="{left}" y="{height - 14}" font-size="11">{_e(_short(lo))}</text>'
                 f'<text x="{width - 10}" y="{height - 14}" text-anchor="end" font-size="11">{_e(_short(hi))}</text>'
                 f'<text x="{(left + width) / 2:.0f}" y="{height - 2}" text-anchor="middle" font-size="11">'
                 f'{_e(xlabel)}</text></svg>')
    return "".join(parts)


def _short(v: float) -> str:
    return f"{v:g}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: EvalReport) -> str:
    """The whole page for ``report`` (a string of HTML5)."""
    cfg, ident, run = report.config, report.identity, report.run
    agent = cfg.get("agent", {})
    who = agent.get("model") or agent.get("kind", "?")
    cards = [("resolved", _pct(report.resolved_rate), f"{report.resolved_episodes}/{report.completed_episodes} episodes"),
             ("pass@1", _pct(report.pass_at_k.get("1")), f"{report.total_instances} instances"),
             ("mean score", _num(report.score.get("mean")), f"± {_num(report.score.get('std'))}"),
             ("mean steps", _num(report.steps.get("mean"), 1), f"max {_num(report.steps.get('max'), 0)}"),
             ("not counted", str(report.total_episodes - report.completed_episodes - report.incomplete_episodes),
              f"{report.infra_error_episodes} infrastructure errors"),
             ("incomplete", str(report.incomplete_episodes), "episodes without a result")]
    card_html = "".join(f"<div class=card>{_e(t)}<b>{_e(v)}</b><span class=sub>{_e(s)}</span></div>" for t, v, s in cards)

    tiers = [(t, s.resolved_rate or 0.0, f"{_pct(s.resolved_rate)} ({s.resolved}/{s.episodes})")
             for t, s in report.by_tier.items()]
    statuses = [(s, float(n), str(n)) for s, n in report.by_exit_status.items()]
    actions = [(a, float(n), str(n)) for a, n in report.action_mix.items()]
    plots = [
        ("Resolved rate by tier", bar_chart(tiers, max_value=1.0)),
        ("Final score distribution", histogram(report.score_histogram, xlabel="final score")),
        ("Steps per episode", histogram(report.steps_histogram, xlabel="steps", color="#f58518")),
        ("Action mix", bar_chart(actions, color="#54a24b")),
        ("Exit status", bar_chart(statuses, color="#e45756")),
    ]
    plot_html = "".join(f"<figure><figcaption>{_e(t)}</figcaption>{svg}</figure>" for t, svg in plots)

    tier_rows = [[_e(t), s.episodes, s.resolved, _pct(s.resolved_rate), _num(s.mean_score), _num(s.mean_steps, 1),
                  _num(s.mean_wall_s, 2)] for t, s in report.by_tier.items()]
    tier_rows.append(["<b>all</b>", report.completed_episodes, report.resolved_episodes, _pct(report.resolved_rate),
                      _num(report.score.get("mean")), _num(report.steps.get("mean"), 1),
                      _num(report.wall_s.get("mean"), 2)])
    passk = [[f"pass@{_e(k)}", _pct(v), report.pass_at_k_instances.get(k, 0)] for k, v in report.pass_at_k.items()]
    status_rows = [[_e(s), n] for s, n in report.by_exit_status.items()]
    task_rows = []
    for t in report.by_task:
        pk = t.get("pass_at_k", {})
        ok = t["resolved"] and t["resolved"] == t["samples"]
        task_rows.append([_e(t["instance"]), _e(t.get("tier") or "–"), t["samples"],
                          f'<span class="{"ok" if ok else "bad" if not t["resolved"] else ""}">{t["resolved"]}</span>',
                          _pct(pk.get("1")), _num(t.get("mean_score")), _num(t.get("mean_steps"), 1),
                          _e(", ".join(f"{k} {v}" for k, v in t.get("exit_statuses", {}).items()))])
    failures = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)[:500]}</td></tr>" for k, v in report.failure_reasons.items())
    config_json = _e(json.dumps({"config": cfg, "identity": ident, "run": run}, indent=2, default=str))

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>TraceFix-RL evaluation: {_e(who)}</title><style>{_CSS}</style></head><body>
<h1>TraceFix-RL evaluation: {_e(who)}</h1>
<p class=sub>agent <b>{_e(agent.get("kind", "?"))}</b>{" at " + _e(agent["endpoint"]) if agent.get("endpoint") else ""};
{report.total_episodes} episodes ({report.total_instances} instances × samples), run {_e(run.get("id", ""))},
finished {_e(run.get("finished", ""))}; tracefix-rl {_e(ident.get("package_version", "?"))},
isolation {_e(", ".join(ident.get("isolation", [])) or "?")}; schema {_e(report.schema_)}</p>
<div class=cards>{card_html}</div>
<h2>Plots</h2><div class=plots>{plot_html}</div>
<h2>Resolved rate by tier</h2>{_table(["tier", "episodes", "resolved", "rate", "mean score", "mean steps",
                                      "seconds / episode"], tier_rows, {1, 2, 3, 4, 5, 6})}
<h2>pass@k</h2><p class=sub>Unbiased estimator, averaged over instances with at least k counted samples.</p>
{_table(["k", "value", "instances"], passk, {1, 2})}
<h2>Exit statuses</h2>{_table(["status", "episodes"], status_rows, {1})}
<h2>By task</h2>{_table(["instance", "tier", "samples", "resolved", "pass@1", "mean score", "mean steps", "exit statuses"],
                         task_rows, {2, 3, 4, 5, 6})}
<h2>Episodes not counted</h2>{"<table><tr><th>episode</th><th>reason</th></tr>" + failures + "</table>"
                              if failures else "<p class=sub>none</p>"}
<h2>Configuration and identity</h2><pre>{config_json}</pre>
</body></html>
"""
