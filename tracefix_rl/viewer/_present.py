"""What the pages show, built from stored records: plain dataclasses the templates read.

Nothing here replays or re-runs anything: every observation is the one the store kept
(:meth:`~tracefix_rl.data.trajectories.TrajectoryStore.load_episode` carries each step's full
observation). Text is kept as it is; the templates escape it (and the highlighted code and
the charts arrive as escaped markup).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from tracefix_rl.viewer._charts import ChartPoint, pass_chart, reward_chart
from tracefix_rl.viewer._highlight import DiffLine, diff_lines, highlight_lines

__all__ = ["EpisodeView", "StepView", "TaskView", "episode_view", "format_time", "task_view"]


def format_time(ts: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS`` UTC (empty for ``None``)."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class StepView:
    """One step as the episode page shows it (step 0 is the observation ``reset`` returned)."""

    n: int
    action_type: str
    summary: str
    thought: str
    action: dict[str, Any]
    reward: float | None
    cumulative: float | None
    breakdown: dict[str, float]
    error: str | None
    duration_ms: float | None
    time: str
    diff: list[DiffLine]
    tests: list[dict[str, Any]]
    passed: int | None
    total: int | None
    flags: list[dict[str, Any]]
    observation: dict[str, Any] | None
    trace_pretty: str | None
    trace_raw: str | None
    done: bool
    code: list[tuple[int, str]] = field(default_factory=list)

    @property
    def failing(self) -> int:
        """How many tests this step ran failed."""
        return sum(1 for t in self.tests if not t.get("passed"))


@dataclass
class EpisodeView:
    """One episode: its header fields, every step, and the two charts."""

    episode_id: str
    header: dict[str, Any]
    task_name: str
    steps: list[StepView]
    reward_svg: Markup
    pass_svg: Markup
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)


def _summary(action: dict[str, Any]) -> str:
    kind = str(action.get("action_type", "?"))
    if kind == "REPLACE_LINES":
        return f"{kind} {action.get('start_line')}-{action.get('end_line')}"
    if kind == "TRACE":
        bits = [str(action[k]) for k in ("test_name", "trace_format") if action.get(k)]
        return f"{kind} {' '.join(bits)}".strip()
    return kind


def _step(s: dict[str, Any]) -> StepView:
    action = dict(s.get("action") or {})
    obs = s.get("observation")
    snap = s.get("snapshot") or {}
    source = obs if obs is not None else snap
    kind = str(s.get("action_type") or action.get("action_type") or "")
    trace_pretty = obs.get("last_execution_output") if (obs is not None and kind == "TRACE") else None
    return StepView(
        n=int(s["step"]), action_type=kind, summary=_summary(action), thought=str(action.pop("thought", "") or ""),
        action={k: v for k, v in action.items() if v is not None and k != "action_type"},
        reward=s.get("reward"), cumulative=s.get("cumulative_reward"), breakdown=dict(s.get("reward_breakdown") or {}),
        error=s.get("error"), duration_ms=s.get("duration_ms"), time=format_time(s.get("timestamp")),
        diff=diff_lines(s.get("diff") or ""), tests=list(s.get("test_results") or []),
        passed=source.get("tests_passed"), total=source.get("tests_total"),
        flags=list(s.get("security_flags") or []), observation=obs, trace_pretty=trace_pretty,
        trace_raw=obs.get("trace") if obs is not None else None, done=bool(s.get("done")), code=_code(obs))


def _code(obs: dict[str, Any] | None) -> list[tuple[int, str]]:
    return sorted((int(k), str(v)) for k, v in ((obs or {}).get("code_dict") or {}).items())


def _initial(record: dict[str, Any]) -> StepView:
    obs = record.get("initial_observation")
    snap = record.get("initial_snapshot") or {}
    source = obs if obs is not None else snap
    return StepView(n=0, action_type="reset", summary="reset", thought="", action={}, reward=None, cumulative=None,
                    breakdown={}, error=None, duration_ms=None, time=format_time(record.get("start_time")), diff=[],
                    tests=[], passed=source.get("tests_passed"), total=source.get("tests_total"), flags=[],
                    observation=obs, trace_pretty=None, trace_raw=None, done=False, code=_code(obs))


def episode_view(record: dict[str, Any]) -> EpisodeView:
    """The episode page's content for a stored record (:meth:`TrajectoryStore.load_episode`)."""
    manifest = record.get("manifest") or {}
    steps = [_step(s) for s in record.get("steps") or []]
    last_obs = steps[-1].observation if steps and steps[-1].observation else (record.get("initial_observation") or {})
    resolved = record.get("resolved")
    if resolved is None and record.get("done"):
        resolved = last_obs.get("resolved")
    header = {
        "task": record.get("task_name"), "tier": record.get("difficulty"), "seed": record.get("seed"),
        "variant": record.get("variant"), "final score": record.get("final_score"), "resolved": resolved,
        "end reason": record.get("end_reason") or ("still running" if not record.get("done") else None),
        "steps": record.get("total_steps"), "cumulative reward": record.get("cumulative_reward"),
        "hidden tests": (f"{last_obs.get('hidden_tests_passed')}/{last_obs.get('hidden_tests_total')}"
                         if last_obs.get("hidden_tests_total") else None),
        "security flags": record.get("flag_count"), "agent": record.get("agent"),
        "isolation": record.get("isolation"), "package version": record.get("package_version"),
        "python version": record.get("python_version"), "task source": manifest.get("task_source"),
        "started": format_time(record.get("start_time")), "duration s": record.get("duration_seconds"),
        "max steps": manifest.get("max_steps"),
    }
    points = []
    passed: int | None = None
    total: int | None = None
    for st in steps:
        if st.passed is not None:
            passed, total = st.passed, st.total
        points.append(ChartPoint(step=st.n, reward=float(st.reward or 0.0), cumulative=float(st.cumulative or 0.0),
                                 passed=passed, total=total, label=st.summary))
    return EpisodeView(episode_id=str(record["episode_id"]), header=header, task_name=str(record.get("task_name")),
                       steps=[_initial(record), *steps], reward_svg=reward_chart(points), pass_svg=pass_chart(points),
                       manifest=manifest)


@dataclass
class TaskView:
    """A task as the agent sees it, and the parts it never sees (shown only when allowed)."""

    name: str
    difficulty: str
    description: str
    entry_point: str
    aliases: list[str]
    program: list[tuple[int, Markup]]
    tests: list[dict[str, str]]
    hidden_count: int
    bug_type: str
    bug_description: str
    reference: list[tuple[int, Markup]]
    fix: list[DiffLine]
    hidden: list[dict[str, str]]
    provenance: str


def _numbered(source: str) -> list[tuple[int, Markup]]:
    lines = source.splitlines()
    return list(enumerate(highlight_lines(lines), start=1))


def _test_row(t: Any) -> dict[str, str]:
    return {"name": t.name, "call": t.describe_call(), "expect": t.describe_expectation(),
            "role": str(t.role or "")}


def task_view(task: Any) -> TaskView:
    """The task page's content for a :class:`~tracefix_rl.data.tasks.Task`."""
    import difflib

    fix = "\n".join(difflib.unified_diff(task.buggy.splitlines(), task.reference.splitlines(), "buggy",
                                         "reference", lineterm=""))
    return TaskView(name=task.name, difficulty=task.difficulty, description=task.description,
                    entry_point=task.entry_point, aliases=list(task.aliases), program=_numbered(task.buggy),
                    tests=[_test_row(t) for t in task.tests], hidden_count=len(task.hidden_tests),
                    bug_type=task.bug_type, bug_description=task.bug_description,
                    reference=_numbered(task.reference), fix=diff_lines(fix),
                    hidden=[_test_row(t) for t in task.hidden_tests],
                    provenance=json.dumps(task.provenance, sort_keys=True) if task.provenance else "")
