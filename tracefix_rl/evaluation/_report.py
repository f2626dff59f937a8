"""``report.json`` from the rows of ``results.jsonl``: counts, id lists, rates, pass@k, tables."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import EvaluationError
from tracefix_rl.evaluation._passk import mean_pass_at_k, pass_at_k
from tracefix_rl.evaluation._schema import REPORT_SCHEMA, EpisodeResult, EvalReport, ExitStatus, TierStats

__all__ = ["build_report", "latest_rows", "read_results"]

_TIERS = ("easy", "medium", "hard")


def read_results(path: Path) -> list[EpisodeResult]:
    """Every row of a ``results.jsonl`` (in file order). A torn last line (a killed run) is
    skipped; any other malformed line raises :class:`EvaluationError` naming it."""
    if not path.exists():
        return []
    rows: list[EpisodeResult] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(EpisodeResult.model_validate(json.loads(line)))
        except ValueError as exc:
            if n == len(lines):
                break  # the write in progress when the run was killed
            raise EvaluationError(f"{path}:{n}: not a result row: {exc}") from None
    return rows


def latest_rows(rows: Iterable[EpisodeResult]) -> dict[str, EpisodeResult]:
    """The last row of every episode key (a re-run supersedes the earlier row)."""
    out: dict[str, EpisodeResult] = {}
    for row in rows:
        out[row.key] = row
    return out


def _stats(values: Sequence[float], keys: Sequence[str] = ("mean", "std", "median", "min", "max")) -> dict[str, Any]:
    if not values:
        return {k: None for k in keys}
    full = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "median": statistics.median(values), "min": min(values), "max": max(values)}
    return {k: round(full[k], 4) for k in keys}


def _histogram(values: Sequence[float], start: float, width: float, bins: int) -> list[dict[str, float]]:
    counts = [0] * max(bins, 0)
    for v in values:
        counts[min(max(int((v - start) // width), 0), len(counts) - 1)] += 1
    return [{"lo": round(start + i * width, 4), "hi": round(start + (i + 1) * width, 4), "count": c}
            for i, c in enumerate(counts)]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _tier_order(tier: str | None) -> int:
    return _TIERS.index(tier) if tier in _TIERS else len(_TIERS)


def build_report(rows: Iterable[EpisodeResult], planned: Sequence[str], *, samples: int,
                 config: dict[str, Any], identity: dict[str, Any], run: dict[str, Any]) -> EvalReport:
    """The report over the ``planned`` episode keys (rows of other keys are ignored).

    ``samples`` is the number of rollouts per instance: pass@k is reported for every
    ``k <= samples``, each averaged over the instances with at least ``k`` counted samples.
    """
    latest = latest_rows(rows)
    planned_set = set(planned)
    have = [latest[k] for k in planned if k in latest]
    counted = [r for r in have if r.counted]
    by_status = Counter(r.exit_status.value for r in have)

    def ids(status: ExitStatus) -> list[str]:
        return [r.key for r in have if r.exit_status is status]

    report = EvalReport(schema=REPORT_SCHEMA, run=run, config=config, identity=identity)
    report.total_episodes = len(planned)
    report.completed_ids = [r.key for r in counted]
    report.resolved_ids = [r.key for r in counted if r.resolved]
    report.unresolved_ids = [r.key for r in counted if not r.resolved]
    report.infra_error_ids = ids(ExitStatus.INFRA_ERROR)
    report.model_error_ids = ids(ExitStatus.MODEL_ERROR)
    report.task_error_ids = ids(ExitStatus.TASK_ERROR)
    report.harness_error_ids = ids(ExitStatus.HARNESS_ERROR)
    report.incomplete_ids = [k for k in planned if k not in latest]
    report.completed_episodes = len(report.completed_ids)
    report.resolved_episodes = len(report.resolved_ids)
    report.unresolved_episodes = len(report.unresolved_ids)
    report.infra_error_episodes = len(report.infra_error_ids)
    report.model_error_episodes = len(report.model_error_ids)
    report.task_error_episodes = len(report.task_error_ids)
    report.harness_error_episodes = len(report.harness_error_ids)
    report.incomplete_episodes = len(report.incomplete_ids)
    report.failure_reasons = {r.key: r.error or r.exit_status.value for r in have if not r.counted}

    report.resolved_rate = _rate(report.resolved_episodes, report.completed_episodes)
    tiers: dict[str, list[EpisodeResult]] = defaultdict(list)
    for r in counted:
        tiers[r.tier or "unknown"].append(r)
    for tier in sorted(tiers, key=_tier_order):
        group = tiers[tier]
        scores = [r.final_score for r in group if r.final_score is not None]
        report.by_tier[tier] = TierStats(episodes=len(group), resolved=sum(r.resolved for r in group),
                                         resolved_rate=_rate(sum(r.resolved for r in group), len(group)),
                                         mean_score=round(statistics.fmean(scores), 4) if scores else None,
                                         mean_steps=round(statistics.fmean(r.steps for r in group), 2),
                                         mean_wall_s=round(statistics.fmean(r.wall_s for r in group), 3))

    instances: dict[str, list[EpisodeResult]] = defaultdict(list)
    for key in planned:
        if key in latest:
            instances[latest[key].instance].append(latest[key])
    instance_names = sorted({k.rsplit("#", 1)[0] for k in planned_set})
    report.total_instances = len(instance_names)
    report.resolved_instance_ids = [i for i in instance_names
                                    if any(r.resolved and r.counted for r in instances.get(i, ()))]
    report.resolved_instances = len(report.resolved_instance_ids)
    nc = {i: (sum(r.counted for r in rs), sum(r.resolved and r.counted for r in rs)) for i, rs in instances.items()}
    for k in range(1, samples + 1):
        mean, covered = mean_pass_at_k(nc.values(), k)
        report.pass_at_k[str(k)] = None if mean is None else round(mean, 4)
        report.pass_at_k_instances[str(k)] = covered

    report.score = _stats([r.final_score for r in counted if r.final_score is not None])
    report.steps = _stats([float(r.steps) for r in counted], ("mean", "median", "max"))
    report.score_histogram = _histogram([r.final_score for r in counted if r.final_score is not None], 0.0, 0.05, 20)
    top = max((r.steps for r in counted), default=0)
    width = max(1, -(-(top + 1) // 25))
    report.steps_histogram = _histogram([float(r.steps) for r in counted], 0.0, float(width), -(-(top + 1) // width))
    prompt = sum(r.prompt_tokens for r in have)
    completion = sum(r.completion_tokens for r in have)
    report.tokens = {"prompt": prompt, "completion": completion, "total": prompt + completion,
                     "mean_per_episode": round((prompt + completion) / len(counted), 1) if counted else 0.0}
    report.wall_s = _stats([r.wall_s for r in have], ("mean", "median", "max"))
    report.by_exit_status = {s.value: by_status.get(s.value, 0) for s in ExitStatus if by_status.get(s.value)}
    mix: Counter[str] = Counter()
    for r in have:
        mix.update(r.actions)
    report.action_mix = dict(mix.most_common())

    for name in sorted(instances, key=lambda i: (_tier_order(instances[i][0].tier), i)):
        group = instances[name]
        n, c = nc[name]
        done = [r for r in group if r.counted]
        scores = [r.final_score for r in done if r.final_score is not None]
        report.by_task.append({
            "instance": name, "task": group[0].task, "variant": group[0].variant, "tier": group[0].tier,
            "task_hash": group[0].task_hash, "samples": n, "resolved": c,
            "pass_at_k": {str(k): round(pass_at_k(n, c, k), 4) for k in range(1, n + 1)},
            "mean_score": round(statistics.fmean(scores), 4) if scores else None,
            "mean_steps": round(statistics.fmean(r.steps for r in done), 2) if done else None,
            "exit_statuses": dict(Counter(r.exit_status.value for r in group)),
            "episode_ids": [r.episode_id for r in sorted(group, key=lambda r: r.sample)],
        })
    return report
