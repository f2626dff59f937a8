"""Inline SVG charts of an episode: rewards per step and visible tests passing.

The SVG is built from numbers only (step numbers, rewards, counts) plus escaped titles, so it
is safe to inline; every mark links to its step's section (``#step-N``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["ChartPoint", "pass_chart", "reward_chart"]

_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 640, 160, 44, 10, 12, 22


@dataclass(frozen=True)
class ChartPoint:
    """One step of the charts: its number, reward, cumulative reward and visible tests passing."""

    step: int
    reward: float
    cumulative: float
    passed: int | None
    total: int | None
    label: str


def _x(i: int, n: int) -> float:
    span = _W - _PAD_L - _PAD_R
    return _PAD_L + span * (i + 0.5) / max(n, 1)


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _y(v: float, lo: float, hi: float) -> float:
    return _PAD_T + (_H - _PAD_T - _PAD_B) * (hi - v) / (hi - lo)


def _frame(title: str, lo: float, hi: float, n: int, fmt: str) -> list[str]:
    parts = [f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>",
             f'<line class="axis" x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{_H - _PAD_B}"/>',
             f'<line class="axis" x1="{_PAD_L}" y1="{_H - _PAD_B}" x2="{_W - _PAD_R}" y2="{_H - _PAD_B}"/>']
    for v in (lo, hi):
        parts.append(f'<text class="tick" x="{_PAD_L - 4}" y="{_y(v, lo, hi) + 4:.1f}" '
                     f'text-anchor="end">{format(v, fmt)}</text>')
    if lo < 0 < hi:
        y0 = _y(0, lo, hi)
        parts.append(f'<line class="zero" x1="{_PAD_L}" y1="{y0:.1f}" x2="{_W - _PAD_R}" y2="{y0:.1f}"/>')
    for i in sorted({0, n - 1, (n - 1) // 2}) if n else []:
        parts.append(f'<text class="tick" x="{_x(i, n):.1f}" y="{_H - 6}" text-anchor="middle">{i + 1}</text>')
    return parts


def reward_chart(points: Sequence[ChartPoint]) -> Markup:
    """Per-step reward as bars and the cumulative reward as a line."""
    n = len(points)
    values = [p.reward for p in points] + [p.cumulative for p in points] + [0.0]
    lo, hi = _scale(min(values), max(values))
    parts = _frame("reward per step (bars) and cumulative reward (line)", lo, hi, n, ".2f")
    bar = max(1.0, (_W - _PAD_L - _PAD_R) / max(n, 1) * 0.7)
    y0 = _y(0, lo, hi)
    for i, p in enumerate(points):
        y = _y(p.reward, lo, hi)
        top, height = min(y, y0), max(abs(y - y0), 1.0)
        kind = "pos" if p.reward >= 0 else "neg"
        parts.append(f'<a href="#step-{p.step}"><rect class="bar {kind}" x="{_x(i, n) - bar / 2:.1f}" '
                     f'y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}"><title>step {p.step} '
                     f'{escape(p.label)}: reward {p.reward:+.3f}, cumulative {p.cumulative:+.3f}</title></rect></a>')
    if n:
        path = " ".join(f"{'M' if i == 0 else 'L'}{_x(i, n):.1f},{_y(p.cumulative, lo, hi):.1f}"
                        for i, p in enumerate(points))
        parts.append(f'<path class="line cumulative" d="{path}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def pass_chart(points: Sequence[ChartPoint]) -> Markup:
    """Visible tests passing after each step (a step line; gaps before the first test run)."""
    n = len(points)
    totals = [p.total for p in points if p.total]
    hi = float(max(totals)) if totals else 1.0
    parts = _frame("visible tests passing after each step", 0.0, hi, n, ".0f")
    segments: list[str] = []
    for i, p in enumerate(points):
        if p.passed is None:
            continue
        x, y = _x(i, n), _y(float(p.passed), 0.0, hi)
        segments.append(f"{'M' if not segments else 'L'}{x:.1f},{y:.1f}")
        parts.append(f'<a href="#step-{p.step}"><circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                     f'<title>step {p.step} {escape(p.label)}: {p.passed}/{p.total} visible tests pass</title>'
                     f"</circle></a>")
    if segments:
        parts.insert(len(parts) - sum(1 for p in points if p.passed is not None),
                     f'<path class="line passing" d="{" ".join(segments)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
