"""Verified deterministic replay of recorded episodes.

:func:`replay_record` rebuilds the environment from an episode's manifest (task by name, checked
against the recorded task content hash; reward constants, sandbox limits, step budget and
rendering settings as recorded; the same seed and variant), resets it, and checks the initial
observation hash. It then re-applies every recorded action and compares, step by step, the
observation hash, the observation's field-level snapshot, the reward, every reward term, the
cumulative reward, ``done`` and the action error; at the end it compares the final score. It
stops at the first divergence and reports which fields differ there, with recorded and
replayed values (and, for the program text and output, a unified diff).

Wall-clock timings are never compared (they are excluded from the observation hash). Replay
needs the same task content (built-in bank or task pack, and variant, as recorded; checked by
content hash after reset); a different package or Python version is allowed but reported
as a warning, since it is the usual cause of a divergence.
"""

from __future__ import annotations

import difflib
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import ReplayError, TraceFixError
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.core.task import Task
from tracefix_rl.core.trajectory import StepRecord
from tracefix_rl.data.trajectories import TrajectoryStore, observation_snapshot

__all__ = ["ReplayReport", "replay", "replay_record"]

_TOL = 1e-9


@dataclass
class ReplayReport:
    """The outcome of one replay.

    ``verified`` is true iff every recorded step (and the final score, if recorded) matched.
    Otherwise ``first_divergence`` is the first step that differed (``0`` = the initial
    observation), ``differences`` lists ``{"field", "recorded", "replayed"}`` for it and
    ``diff`` is the same as readable text.
    """

    episode_id: str
    task_name: str
    verified: bool
    first_divergence: int | None
    steps_checked: int
    steps_total: int
    seconds: float
    differences: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    final_score_recorded: float | None = None
    final_score_replayed: float | None = None
    warnings: list[str] = field(default_factory=list)
    observations: list[CodeObservation] = field(default_factory=list, repr=False)
    """With ``keep_observations=True``: the replayed observations, the one after ``reset`` first,
    then one per step checked (the text the agent saw, for exporters)."""

    @property
    def steps_per_second(self) -> float:
        """Verified steps per second of wall-clock time (environment, sandbox and checks)."""
        return self.steps_checked / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: ``VERIFIED ...`` or ``DIVERGED at step N ...``."""
        if self.verified:
            return (f"VERIFIED {self.episode_id} ({self.task_name}): {self.steps_checked} steps, "
                    f"final score {self.final_score_replayed}, {self.seconds:.2f}s")
        fields = ", ".join(d["field"] for d in self.differences)
        return f"DIVERGED {self.episode_id} ({self.task_name}) at step {self.first_divergence}: {fields}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (used by ``tracefix replay --json``)."""
        d = asdict(replace(self, observations=[]))
        del d["observations"]
        d["steps_per_second"] = self.steps_per_second
        return d


class _Capture:
    """A recorder that keeps the replayed episode's step records in memory."""

    def __init__(self) -> None:
        self.initial: CodeObservation | None = None
        self.steps: list[StepRecord] = []

    def start_episode(self, manifest: dict[str, Any], observation: CodeObservation) -> None:
        self.initial = observation

    def record_step(self, record: StepRecord) -> None:
        self.steps.append(record)

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None:
        pass


def replay(episode_id: str | None = None, db: str | os.PathLike[str] | None = None, *,
           sandbox: Any = None) -> ReplayReport:
    """Replay one stored episode (default: the latest) from the SQLite store at ``db``
    (default: :func:`~tracefix_rl.data.trajectories.default_db_path`) and verify it.

    Raises :class:`~tracefix_rl.core.errors.ReplayError` if the store or episode does not exist
    or the episode cannot be rebuilt (unknown task, task content changed, bad manifest).
    """
    from tracefix_rl.data.trajectories import default_db_path

    path = Path(db).expanduser() if db is not None else default_db_path()
    if not path.exists():
        raise ReplayError(f"no trajectory store at {path}")
    store = TrajectoryStore(path)
    try:
        try:
            record = store.load_episode(episode_id)
        except TraceFixError as exc:
            raise ReplayError(str(exc)) from exc
    finally:
        store.close()
    return replay_record(record, sandbox=sandbox)


FIRST_REPLAYABLE = "0.3.0"
"""The oldest package version whose episodes replay: 0.3.0 changed the score (test roles, resolved)."""


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _build_env(manifest: dict[str, Any], sandbox: Any) -> tuple[Any, _Capture, list[str]]:
    from tracefix_rl._version import __version__
    from tracefix_rl.core.config import EnvConfig, RewardConfig
    from tracefix_rl.engines.sandbox import Limits
    from tracefix_rl.env._environment import TraceFixEnvironment
    from tracefix_rl.env.wrappers import RecordEpisodes

    fmt = str(manifest.get("format", ""))
    if not fmt.startswith("tracefix-trajectory/"):
        raise ReplayError(f"not a TraceFix-RL trajectory manifest (format {fmt!r})")
    if not manifest.get("task_name"):
        raise ReplayError("cannot rebuild the task: the manifest names no task")
    recorded_version = str(manifest.get("package_version") or "0")
    if _release(recorded_version) < _release(FIRST_REPLAYABLE):
        raise ReplayError(f"recorded with tracefix-rl {recorded_version}, whose scoring and test judging differ "
                          f"from {__version__}'s (test roles, the resolved score); episodes recorded before "
                          f"{FIRST_REPLAYABLE} cannot be verified: record them again")
    warnings = []
    if manifest.get("package_version") != __version__:
        warnings.append(f"recorded with tracefix-rl {manifest.get('package_version')}, replaying with {__version__}")
    import platform

    if manifest.get("python_version") != platform.python_version():
        warnings.append(f"recorded with Python {manifest.get('python_version')}, "
                        f"replaying with {platform.python_version()}")
    try:
        env_cfg = {k: v for k, v in (manifest.get("env_config") or {}).items()
                   if k in EnvConfig.__dataclass_fields__}
        config = EnvConfig(max_steps=int(manifest["max_steps"]), reward=RewardConfig(**manifest["reward_config"]),
                           limits=Limits(**manifest["limits"]), **env_cfg)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayError(f"manifest cannot configure an environment: {exc}") from exc
    source = None
    if manifest.get("task") is not None:
        from tracefix_rl.data.tasks import RecordedTaskSource

        try:
            task = Task.from_dict(manifest["task"])
        except TraceFixError as exc:
            raise ReplayError(f"the task recorded in the manifest is malformed: {exc}") from exc
        if manifest.get("task_hash") and task.content_hash != manifest["task_hash"]:
            raise ReplayError("the task recorded in the manifest does not match its recorded content hash")
        source = RecordedTaskSource(task, str(manifest.get("task_source") or "builtin"))
    capture = _Capture()
    env = RecordEpisodes(TraceFixEnvironment(config, sandbox=sandbox, task_source=source), capture)
    if env.sandbox.isolation != manifest.get("isolation"):
        warnings.append(f"recorded under isolation {manifest.get('isolation')!r}, "
                        f"replaying under {env.sandbox.isolation!r}")
    return env, capture, warnings


def replay_record(record: dict[str, Any], *, sandbox: Any = None, keep_observations: bool = False) -> ReplayReport:
    """Replay and verify one episode record (from :meth:`TrajectoryStore.load_episode` or an
    exported JSONL/Parquet file); see the module docstring for what is compared. With
    ``keep_observations`` the report also carries the replayed observations."""
    from tracefix_rl.data.trajectories import normalize_record

    record = normalize_record(record)
    manifest = record["manifest"]
    steps = sorted(record["steps"], key=lambda s: s["step"])
    started = time.perf_counter()
    env, capture, warnings = _build_env(manifest, sandbox)
    eid = str(record.get("episode_id") or manifest.get("episode_id"))
    report = ReplayReport(episode_id=eid, task_name=str(manifest["task_name"]), verified=False,
                          first_divergence=None, steps_checked=0, steps_total=len(steps), seconds=0.0,
                          final_score_recorded=record.get("final_score"), warnings=warnings)

    def diverge(step: int, diffs: list[dict[str, Any]], header: str) -> ReplayReport:
        report.first_divergence = step
        report.differences = diffs
        report.diff = header + "\n" + "\n".join(_render(d) for d in diffs)
        report.seconds = time.perf_counter() - started
        return report

    try:
        from tracefix_rl.core.trajectory import observation_hash

        source = manifest.get("task_source")
        # a manifest that carries its task replays from it; older ones reopen the recorded source
        reopen = manifest.get("task") is None and source not in (None, "builtin")
        try:
            obs = env.reset(task_name=manifest["task_name"], seed=manifest.get("seed"),
                            variant=manifest.get("variant"), episode_id=manifest.get("episode_id"),
                            **({"task_pack": source} if reopen else {}))
        except TraceFixError as exc:
            raise ReplayError(f"cannot rebuild the task: {exc}") from exc
        task = env.task
        if manifest.get("task_hash") and task.content_hash != manifest["task_hash"]:
            raise ReplayError(f"task {task.name!r} changed since the episode was recorded (content hash "
                              f"{task.content_hash[:12]} != recorded {str(manifest['task_hash'])[:12]})")
        recorded0 = record.get("initial_observation_hash")
        if recorded0 and observation_hash(obs) != recorded0:
            diffs = _compare_snapshots(record.get("initial_snapshot") or {}, observation_snapshot(obs))
            diffs.append({"field": "observation_hash", "recorded": recorded0, "replayed": observation_hash(obs)})
            return diverge(0, diffs, "step 0 (the initial observation after reset) differs:")
        for expected_step, s in enumerate(steps, start=1):
            if s["step"] != expected_step:
                return diverge(expected_step, [{"field": "step", "recorded": s["step"], "replayed": expected_step}],
                               f"step {expected_step} is missing from the record:")
            try:
                action = CodeAction(**s["action"])
            except Exception as exc:  # a tampered or corrupt action is a divergence, not a crash
                return diverge(s["step"], [{"field": "action", "recorded": s["action"],
                                            "replayed": f"invalid CodeAction: {exc}"}],
                               f"step {s['step']}: the recorded action is not a valid CodeAction:")
            before = len(capture.steps)
            env.step(action)
            if len(capture.steps) == before:
                return diverge(s["step"], [{"field": "done", "recorded": False, "replayed": True}],
                               f"step {s['step']}: the replayed episode had already ended:")
            diffs = _compare_step(s, capture.steps[-1])
            if diffs:
                return diverge(s["step"], diffs, f"step {s['step']} ({_describe(s['action'])}) differs:")
            report.steps_checked += 1
        report.final_score_replayed = env.state.final_score
        rec_final = record.get("final_score")
        if rec_final is not None and not _close(rec_final, report.final_score_replayed):
            return diverge(len(steps), [{"field": "final_score", "recorded": rec_final,
                                         "replayed": report.final_score_replayed}],
                           f"step {len(steps)}: the final score differs:")
    finally:
        env.close()
        if keep_observations and capture.initial is not None:
            report.observations = [capture.initial, *(s.observation for s in capture.steps)]
    report.verified = True
    report.seconds = time.perf_counter() - started
    return report


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= _TOL
    return bool(a == b)


def _compare_step(rec: dict[str, Any], new: StepRecord) -> list[dict[str, Any]]:
    diffs: list[dict[str, Any]] = []
    snap = observation_snapshot(new.observation)
    diffs += _compare_snapshots(rec.get("snapshot") or {}, snap)
    if rec.get("diff") is not None and rec["diff"] != new.diff:
        diffs.append({"field": "code diff", "recorded": rec["diff"], "replayed": new.diff})
    for name in ("reward", "cumulative_reward", "done", "error"):
        replayed = getattr(new, name)
        if not _close(rec.get(name), replayed):
            diffs.append({"field": name, "recorded": rec.get(name), "replayed": replayed})
    rb, nb = rec.get("reward_breakdown") or {}, new.reward_breakdown
    for term in sorted(set(rb) | set(nb)):
        if not _close(rb.get(term), nb.get(term)):
            diffs.append({"field": f"reward_breakdown.{term}", "recorded": rb.get(term), "replayed": nb.get(term)})
    if rec.get("observation_hash") != new.observation_hash:
        diffs.append({"field": "observation_hash", "recorded": rec.get("observation_hash"),
                      "replayed": new.observation_hash})
        if len(diffs) == 1:
            diffs[0]["note"] = ("every snapshot field, reward and flag matches: the stored hash itself was "
                                "altered, or a field outside the snapshot differs")
    return diffs


def _compare_snapshots(rec: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    diffs: list[dict[str, Any]] = []
    if not rec:
        return diffs
    for key in new:
        if key == "digests":
            rd, nd = rec.get("digests") or {}, new["digests"]
            for k in nd:
                if rd.get(k) != nd[k]:
                    diffs.append({"field": f"observation.{k}", "recorded": f"digest {rd.get(k)}",
                                  "replayed": f"digest {nd[k]}"})
        elif not _close(rec.get(key), new[key]):
            diffs.append({"field": f"observation.{key}", "recorded": rec.get(key), "replayed": new[key]})
    return diffs


def _describe(action: dict[str, Any]) -> str:
    kind = action.get("action_type", "?")
    if kind == "REPLACE_LINES":
        return f"REPLACE_LINES {action.get('start_line')}-{action.get('end_line')}"
    return str(kind)


def _render(d: dict[str, Any]) -> str:
    rec, new = d["recorded"], d["replayed"]
    line = f"  {d['field']}:"
    if d["field"] == "code diff":
        def block(label: str, text: str) -> str:
            body = text.splitlines()[2:] or ["(no change)"]  # drop the ---/+++ header
            more = [f"... {len(body) - 24} more lines"] if len(body) > 24 else []
            return f"    {label}:\n" + "\n".join("      " + x for x in body[:24] + more)
        return f"{line}\n{block('recorded edit', rec)}\n{block('replayed edit', new)}"
    if isinstance(rec, str) and isinstance(new, str) and ("\n" in rec or "\n" in new):
        body = difflib.unified_diff(rec.splitlines(), new.splitlines(), "recorded", "replayed", lineterm="", n=1)
        text = "\n".join("      " + x for x in list(body)[:40])
        return f"{line}\n{text}"
    text = f"{line} recorded {_short(rec)}, replayed {_short(new)}"
    if d.get("note"):
        text += f"\n      ({d['note']})"
    return text


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) and value.startswith("digest ") else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
