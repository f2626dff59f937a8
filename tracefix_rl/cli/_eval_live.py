"""The run's status as Rich renderables: the live table while it runs, the summary at the end."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from tracefix_rl.evaluation import EvalReport, Progress

__all__ = ["status_table", "summary_tables"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def status_table(progress: Progress, title: str = "tracefix eval") -> Table:
    """Running, done, resolved, mean score, errors, retries, elapsed time and ETA."""
    p = progress
    table = Table(title=title, show_header=True, header_style="bold")
    for col in ("running", "done", "resolved", "score", "errors", "retries", "elapsed", "ETA", "ep/min"):
        table.add_column(col, justify="right", no_wrap=True)
    rate = 60 * p.done / p.elapsed_s if p.done and p.elapsed_s else None
    errors = ", ".join(f"{s.removesuffix('_error')} {n}" for s, n in sorted(p.statuses.items()) if s in _ERRORS) or "0"
    table.add_row(str(p.running), f"{p.done + p.skipped}/{p.total}" + (f" ({p.skipped} earlier)" if p.skipped else ""),
                  f"{p.resolved}/{p.counted} {_pct(p.resolved_rate)}",
                  "–" if p.mean_score is None else f"{p.mean_score:.3f}", errors, str(p.retries),
                  _duration(p.elapsed_s), _duration(p.eta_s), "–" if rate is None else f"{rate:.1f}")
    return table


_ERRORS = ("infra_error", "model_error", "task_error", "harness_error")


def summary_tables(report: EvalReport) -> Group:
    """The report's headline figures, as printed at the end of ``tracefix eval`` (same as the JSON)."""
    main = Table(title="Resolved rate", header_style="bold")
    for col, justify in (("tier", "left"), ("episodes", "right"), ("resolved", "right"), ("rate", "right"),
                         ("mean score", "right"), ("s / episode", "right")):
        main.add_column(col, justify=justify)  # type: ignore[arg-type]
    for tier, s in report.by_tier.items():
        main.add_row(tier, str(s.episodes), str(s.resolved), _pct(s.resolved_rate),
                     "–" if s.mean_score is None else f"{s.mean_score:.3f}",
                     "–" if s.mean_wall_s is None else f"{s.mean_wall_s:.2f}")
    mean, wall = report.score.get("mean"), report.wall_s.get("mean")
    main.add_row("[bold]all[/bold]", str(report.completed_episodes), str(report.resolved_episodes),
                 _pct(report.resolved_rate), "–" if mean is None else f"{mean:.3f}",
                 "–" if wall is None else f"{wall:.2f}")
    figures = Table(title="Run", header_style="bold", show_header=False)
    figures.add_column("")
    figures.add_column("", justify="right")
    for k, v in report.pass_at_k.items():
        figures.add_row(f"pass@{k}", f"{_pct(v)} ({report.pass_at_k_instances.get(k, 0)} instances)")
    std = report.score.get("std")
    figures.add_row("mean score", "–" if mean is None else f"{mean:.3f} ± {std or 0:.3f}")
    steps = report.steps.get("mean")
    figures.add_row("mean steps", "–" if steps is None else f"{steps:.1f}")
    figures.add_row("instances resolved", f"{report.resolved_instances}/{report.total_instances}")
    for status, n in report.by_exit_status.items():
        figures.add_row(f"exit {status}", str(n))
    if report.incomplete_episodes:
        figures.add_row("incomplete", str(report.incomplete_episodes))
    if report.tokens.get("total"):
        figures.add_row("tokens", f"{int(report.tokens['total']):,}")
    return Group(main, figures)
