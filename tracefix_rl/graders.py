"""Programmatic graders for the tasks listed in ``openenv.yaml`` (``tracefix_rl.graders:<task>``).

A grader takes a payload describing the end of an episode, finds the program in it, re-runs the
task's visible **and** hidden tests in the sandbox and returns the environment's own final
score for that program (:func:`tracefix_rl.core.scoring.final_score`, default configuration, with
the payload's ``step_count`` when it carries one): 0.90-0.98 when the episode is resolved
(every FAIL_TO_PASS and PASS_TO_PASS test passes), at most 0.26 otherwise. The result is
deterministic for a given payload and always strictly inside (0, 1): an empty or unreadable
payload, an unknown task or an unparsable program scores the minimum, 0.01.
:func:`grade_report` returns the score together with ``resolved`` and the per-role counts.

Accepted payloads (the shapes the original TraceFix-RL graders accepted): a dict or pydantic
model holding the program directly, or under ``final_observation``, ``observation``,
``last_observation``, ``state`` or ``trajectory``; a list of observations, of
``(action, observation)`` pairs or of step records (the last one with a program wins); a JSON
string of any of these. The program is read from ``source``, ``code``, ``code_lines`` or
``code_dict`` (line-number keys, as ints or strings). A recorded episode from the trajectory
store (``TrajectoryStore.load_episode``: ``task_name``, ``seed`` and ``steps`` with full
``action`` dicts, but no program text) is graded by re-applying its actions in a fresh
environment and taking the resulting program.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from tracefix_rl.core.scoring import SCORE_MAX, SCORE_MIN
from tracefix_rl.data.tasks import GRADED_TASKS

__all__ = ["SCORE_MAX", "SCORE_MIN", "GradeReport", "grade", "grade_report", "task1_easy", "task2_medium",
           "task3_hard"]

_SOURCE_KEYS = ("source", "code", "code_lines", "code_dict", "code_after")
_NESTED_KEYS = ("final_observation", "observation", "last_observation", "state", "trajectory", "steps",
                "result")


@dataclasses.dataclass(frozen=True)
class GradeReport:
    """What a grader found: the score, whether the episode is resolved, and why."""

    score: float
    """The final score, strictly inside (0, 1)."""
    resolved: bool
    """Every FAIL_TO_PASS and PASS_TO_PASS test, visible and hidden, passes."""
    task_name: str | None = None
    steps: int = 0
    tally: Any = None
    """The :class:`~tracefix_rl.core.scoring.TestTally` (``None`` when nothing could be graded)."""
    problem: str = ""
    """Why the minimum was given without grading (empty when the program was graded)."""


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except (ValueError, TypeError):
            return value
    return value


def _find(payload: Any, depth: int = 0) -> dict[str, Any] | None:
    """The innermost dict that holds a program, searching the newest entries first."""
    if depth > 8:
        return None
    payload = _plain(payload)
    if isinstance(payload, dict):
        if any(payload.get(k) not in (None, "", [], {}) for k in _SOURCE_KEYS):
            return payload
        for key in _NESTED_KEYS:
            if key in payload:
                found = _find(payload[key], depth + 1)
                if found is not None:
                    return found
        return None
    if isinstance(payload, list | tuple):
        for item in reversed(payload):
            found = _find(item, depth + 1)
            if found is not None:
                return found
    return None


def _source(holder: dict[str, Any]) -> str | None:
    for key in ("source", "code", "code_after"):
        value = holder.get(key)
        if isinstance(value, str) and value:
            return value
    lines = holder.get("code_lines")
    if isinstance(lines, list | tuple) and lines:
        return "\n".join(str(x) for x in lines) + "\n"
    code_dict = holder.get("code_dict")
    if isinstance(code_dict, dict) and code_dict:
        try:
            items = sorted((int(k), str(v)) for k, v in code_dict.items())
        except (TypeError, ValueError):
            return None
        return "\n".join(text for _, text in items) + "\n"
    return None


def _lookup(payload: Any, holder: dict[str, Any] | None, key: str) -> Any:
    """``key`` from the program's holder, else from the payload's top level or its state."""
    if holder is not None and holder.get(key) is not None:
        return holder[key]
    top = _plain(payload)
    if isinstance(top, dict):
        for candidate in (top, _plain(top.get("state")), _plain(top.get("final_observation"))):
            if isinstance(candidate, dict) and candidate.get(key) is not None:
                return candidate[key]
    return None


def _from_record(payload: Any) -> dict[str, Any] | None:
    """A stored episode record re-played to its final program, as ``{source, step_count, task_name}``."""
    top = _plain(payload)
    if not (isinstance(top, dict) and isinstance(top.get("steps"), list) and top.get("task_name")):
        return None
    actions = [step.get("action") if isinstance(step, dict) else None for step in top["steps"]]
    if not actions or not all(isinstance(a, dict) and "action_type" in a for a in actions):
        return None
    from tracefix_rl.core.config import EnvConfig
    from tracefix_rl.core.models import CodeAction
    from tracefix_rl.env import TraceFixEnvironment

    env = TraceFixEnvironment(EnvConfig())
    manifest = top.get("manifest")
    source = manifest.get("task_source") if isinstance(manifest, dict) else None
    obs = env.reset(task_name=str(top["task_name"]), seed=top.get("seed"), variant=top.get("variant"),
                    task_pack=source if source not in (None, "builtin") else None)
    for action in actions:
        obs = env.step(CodeAction.model_validate(action))
        if obs.done:
            break
    return {"code_dict": obs.code_dict, "step_count": obs.step_count, "task_name": obs.task_name,
            "task_source": source, "variant": top.get("variant")}


def grade(payload: Any = None, *args: Any, task_name: str | None = None, task_pack: str | None = None,
          variant: int | None = None, **kwargs: Any) -> float:
    """Score the program in ``payload`` on ``task_name``'s visible and hidden tests (module doc).

    ``task_name`` may be a task name or alias; if omitted it is read from the payload
    (``task_name``). ``task_pack`` (a pack path, or the ``task_source`` recorded in a trajectory
    manifest) and ``variant`` select tasks outside the built-in bank; both are also read from
    the payload (``task_pack`` / ``task_source``, ``variant``). Extra positional and keyword
    arguments are accepted and ignored, except a ``payload``-like keyword (``final_observation``,
    ``observation``, ``trajectory``, ``state``) when ``payload`` itself is None.
    """
    return grade_report(payload, *args, task_name=task_name, task_pack=task_pack, variant=variant,
                        **kwargs).score


def grade_report(payload: Any = None, *args: Any, task_name: str | None = None, task_pack: str | None = None,
                 variant: int | None = None, **kwargs: Any) -> GradeReport:
    """:func:`grade`, with ``resolved`` and the per-role counts; never raises."""
    try:
        if payload is None:
            payload = {k: v for k, v in kwargs.items() if k in _NESTED_KEYS or k in _SOURCE_KEYS} or None
        replayed = _from_record(payload)
        if replayed is not None:
            payload = replayed
        holder = _find(payload)
        name = task_name or _lookup(payload, holder, "task_name")
        if holder is None or not name:
            return GradeReport(SCORE_MIN, False, problem="no program or no task name in the payload")
        source = _source(holder)
        if not source:
            return GradeReport(SCORE_MIN, False, str(name), problem="the payload's program is empty")
        from tracefix_rl.core.scoring import final_score
        from tracefix_rl.data.tasks import resolve_task
        from tracefix_rl.engines.judge import judge, tally_runs

        pack = task_pack or _lookup(payload, holder, "task_pack") or _lookup(payload, holder, "task_source")
        k = variant if variant is not None else _lookup(payload, holder, "variant")
        task = resolve_task(str(name), str(pack) if pack else None, int(k) if isinstance(k, int) else 0)
        seed = _lookup(payload, holder, "seed")
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        visible = judge(source, task.tests, seed=seed, entry_point=task.entry_point)
        hidden = judge(source, task.hidden_tests, seed=seed, entry_point=task.entry_point)
        if visible.infra_error or hidden.infra_error:
            return GradeReport(SCORE_MIN, False, task.name, problem="the sandbox failed while grading")
        steps = _lookup(payload, holder, "step_count")
        steps = int(steps) if isinstance(steps, int | float) and steps > 0 else 0
        tally = tally_runs(task, visible, hidden)
        return GradeReport(final_score(tally, steps=steps), tally.resolved, task.name, steps, tally)
    except Exception as exc:  # a grader must always answer with a score inside (0, 1)
        return GradeReport(SCORE_MIN, False, problem=f"{type(exc).__name__}: {exc}")


def _bound(task: str) -> Callable[..., float]:
    def grader(payload: Any = None, *args: Any, **kwargs: Any) -> float:
        kwargs.pop("task_name", None)
        return grade(payload, *args, task_name=task, **kwargs)

    grader.__name__ = grader.__qualname__ = task
    grader.__doc__ = f"Grade ``payload`` on task {task!r} (see :func:`grade`)."
    return grader


# The graded tasks' graders, by the names openenv.yaml points at (tracefix_rl.graders:task1_easy).
task1_easy, task2_medium, task3_hard = (_bound(task) for task in GRADED_TASKS)


def __getattr__(name: str) -> Callable[..., float]:
    # ``tracefix_rl.graders:<any task name or alias>`` resolves to a grader bound to that task.
    if name.startswith("__"):
        raise AttributeError(name)
    from tracefix_rl.core.errors import UnknownTaskError
    from tracefix_rl.data.tasks import get_task

    try:
        get_task(name)
    except UnknownTaskError:
        raise AttributeError(f"module {__name__!r} has no grader {name!r} (no such task)") from None
    fn = _bound(name)
    globals()[name] = fn
    return fn
