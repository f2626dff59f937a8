"""The evaluation runner: episodes on worker threads, results appended as they finish, a report at the end.

Files of an output directory ``DIR``:

``run.json``              the run's configuration (checked by ``--resume``)
``results.jsonl``         one :class:`~tracefix_rl.evaluation.EpisodeResult` per finished episode,
                          appended and synced as each one ends (a re-run appends a newer row)
``report.json``           the :class:`~tracefix_rl.evaluation.EvalReport`
``report.html``           the same, readable, with plots; self-contained (no network)
``trajectories.sqlite3``  every episode, step by step (``tracefix trajectories ... --db``)
``eval.log``              diagnostics: the agent loop's messages, retries, errors

Each worker thread owns one environment session (in-process, or a WebSocket session with a
server) and plays episodes one after another. An episode whose *environment* failed is
retried up to ``retries`` times and, if it still fails, recorded as ``infra_error``: never as
a failure of the agent. ``resume`` skips every episode key already in ``results.jsonl``
except those whose status is in :data:`~tracefix_rl.evaluation.RERUN_ON_RESUME`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracefix_rl.core.errors import EvaluationError, ResetArgumentError, TaskError
from tracefix_rl.evaluation._agents import AgentOutcome, EvalAgent
from tracefix_rl.evaluation._envs import EnvFailure, LocalSession, RemoteSession, Session, Tap, recorder_at
from tracefix_rl.evaluation._report import build_report, latest_rows, read_results
from tracefix_rl.evaluation._schema import COUNTED, RERUN_ON_RESUME, EpisodeResult, EvalReport, ExitStatus
from tracefix_rl.evaluation._selection import EpisodeSpec, EvalTask, plan_episodes

__all__ = ["EvalOptions", "EvalOutcome", "EvalRunner", "Progress", "exit_status"]

RUN_SCHEMA = "tracefix-eval-run/1"

_END_STATUS = {
    "submitted": ExitStatus.SUBMITTED, "step_budget": ExitStatus.STEP_BUDGET,
    "kill_parse_errors": ExitStatus.PARSE_ERRORS, "kill_model_errors": ExitStatus.MODEL_ERROR,
    "kill_loop": ExitStatus.LOOP, "deadline": ExitStatus.TIME_LIMIT,
}


@dataclass(frozen=True)
class EvalOptions:
    """How to run an evaluation (the agent and the tasks are given separately)."""

    output_dir: Path
    samples: int = 1
    """Rollouts per (task, variant)."""
    workers: int = 1
    """Episodes played at the same time (one environment session each)."""
    env_url: str | None = None
    """A TraceFix-RL server (``http://host:port`` or ``ws://...``); ``None``: in-process."""
    max_steps: int = 50
    seed: int = 0
    """Sample ``s`` resets its episode with seed ``seed + s``."""
    retries: int = 2
    """Extra attempts for an episode whose environment failed."""
    episode_timeout: float | None = None
    """Wall-clock seconds per episode; at the limit the program is submitted (``time_limit``)."""
    resume: bool = False
    overwrite: bool = False
    html: bool = True


@dataclass
class Progress:
    """A live snapshot of the run (read by the status table)."""

    total: int
    skipped: int = 0
    """Episodes finished by an earlier run (``--resume``)."""
    done: int = 0
    running: int = 0
    counted: int = 0
    resolved: int = 0
    score_sum: float = 0.0
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    @property
    def todo(self) -> int:
        """Episodes this run still has to finish."""
        return self.total - self.skipped - self.done

    @property
    def errors(self) -> int:
        """Finished episodes that are not counted (infrastructure, model, task, harness errors)."""
        return sum(n for s, n in self.statuses.items() if ExitStatus(s) not in COUNTED)

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.counted if self.counted else None

    @property
    def resolved_rate(self) -> float | None:
        return self.resolved / self.counted if self.counted else None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def eta_s(self) -> float | None:
        """Seconds left at this run's pace so far (``None`` before the first episode ends)."""
        if not self.done:
            return None
        return self.elapsed_s / self.done * self.todo


@dataclass
class EvalOutcome:
    """What :meth:`EvalRunner.run` produced."""

    report: EvalReport
    output_dir: Path
    interrupted: bool = False
    harness_error: str | None = None
    """A failure of the harness itself (the run stopped early); ``None`` if it ran to the end."""

    @property
    def ok(self) -> bool:
        """The harness did its job: no harness failure and no episode with ``harness_error``."""
        return self.harness_error is None and not self.report.harness_error_episodes


def exit_status(outcome: AgentOutcome, tap: Tap) -> ExitStatus:
    """How an episode ended, from the agent's outcome and what the environment did."""
    if tap.failure is not None:
        original = tap.failure.original
        if isinstance(original, TaskError | ResetArgumentError) or (
                tap.observation is None and _looks_like_task_error(original)):
            return ExitStatus.TASK_ERROR
        return ExitStatus.INFRA_ERROR
    if outcome.end == "error":
        return ExitStatus.INFRA_ERROR if tap.infra_steps else ExitStatus.HARNESS_ERROR
    if not tap.done:
        return ExitStatus.INFRA_ERROR
    return _END_STATUS.get(outcome.end, ExitStatus.SUBMITTED)


def _looks_like_task_error(exc: BaseException) -> bool:
    # A server answers a reset it cannot do (unknown task, no such variant) with an error frame
    # whose message carries the TaskError text.
    text = str(exc)
    return any(s in text for s in ("TaskError", "UnknownTaskError", "ResetArgumentError", "unknown task",
                                   "has no variant", "no task "))


class _Log:
    """``eval.log``: one timestamped line per message, from any thread."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self._file.write(f"{stamp} {message}\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class EvalRunner:
    """Runs ``agent`` on every episode of ``tasks`` x ``options.samples``; see the module docstring.

    ``selection`` describes how the tasks were chosen (for the report). ``on_episode`` is
    called (from a worker thread, under a lock) with every finished episode's row.
    Diagnostics (the agent loop's included) go to ``DIR/eval.log``.
    """

    def __init__(self, agent: EvalAgent, tasks: Sequence[EvalTask], options: EvalOptions, *,
                 selection: dict[str, Any] | None = None,
                 on_episode: Callable[[EpisodeResult], None] | None = None) -> None:
        self.agent = agent
        self.tasks = list(tasks)
        self.options = options
        self.selection = selection or {}
        self.on_episode = on_episode
        self.dir = Path(options.output_dir)
        self.results_path = self.dir / "results.jsonl"
        self.plan = plan_episodes(self.tasks, options.samples, seed=options.seed)
        self.progress = Progress(total=len(self.plan))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._log: _Log | None = None
        self._recorder: Any = None
        self._failure: str | None = None

    # -- setup ------------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """What must match for ``--resume`` to continue a run: the agent and the episode settings."""
        agent = {k: v for k, v in self.agent.describe().items() if k != "endpoint"}
        return {"agent": agent, "max_steps": self.options.max_steps, "seed": self.options.seed}

    def config(self) -> dict[str, Any]:
        """The run's configuration as recorded in ``run.json`` and ``report.json``."""
        opts = asdict(self.options)
        opts["output_dir"] = str(self.options.output_dir)
        for k in ("resume", "overwrite", "html"):
            opts.pop(k)
        return {"agent": self.agent.describe(), "tasks": self.selection, "options": opts}

    def _prepare(self) -> set[str]:
        """Check the output directory against the options; return the keys already finished."""
        opts = self.options
        existing = self.results_path.exists() and self.results_path.stat().st_size > 0
        if existing and not (opts.resume or opts.overwrite):
            raise EvaluationError(f"{self.dir} already holds results; pass --resume to continue that run "
                                  "or --overwrite to start again")
        self.dir.mkdir(parents=True, exist_ok=True)
        run_file = self.dir / "run.json"
        if opts.overwrite and not opts.resume:
            for name in ("results.jsonl", "report.json", "report.html", "run.json", "eval.log",
                         "trajectories.sqlite3", "trajectories.sqlite3-wal", "trajectories.sqlite3-shm"):
                (self.dir / name).unlink(missing_ok=True)
        elif opts.resume and run_file.exists():
            earlier = json.loads(run_file.read_text(encoding="utf-8")).get("fingerprint", {})
            now = json.loads(json.dumps(self.fingerprint()))
            if earlier != now:
                diff = sorted(_diff(earlier, now))
                raise EvaluationError(f"--resume: {self.dir} was run with other settings ({'; '.join(diff)}); "
                                      "use another output directory or --overwrite")
        run_file.write_text(json.dumps({"schema": RUN_SCHEMA, "created": _now(), "fingerprint": self.fingerprint(),
                                        "config": self.config()}, indent=2, default=str), encoding="utf-8")
        if not opts.resume:
            return set()
        _drop_torn_tail(self.results_path)
        finished = latest_rows(read_results(self.results_path))
        return {k for k, r in finished.items() if r.exit_status not in RERUN_ON_RESUME}

    def _session(self) -> Session:
        session = getattr(self._local, "session", None)
        if session is None:
            if self.options.env_url:
                session = RemoteSession(self.options.env_url, self._recorder)
            else:
                session = LocalSession(self._recorder, max_steps=self.options.max_steps)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    # -- episodes ---------------------------------------------------------------------------

    def _attempt(self, spec: EpisodeSpec, attempt: int) -> EpisodeResult:
        session = self._session()
        tap = Tap(session)
        reset: dict[str, Any] = {"task_name": spec.task.name, "seed": spec.seed, "episode_id": uuid.uuid4().hex}
        if spec.task.variant:
            reset["variant"] = spec.task.variant
        if spec.task.pack:
            reset["task_pack"] = spec.task.pack
        started_at, t0 = time.time(), time.monotonic()
        deadline = t0 + self.options.episode_timeout if self.options.episode_timeout else None
        try:
            outcome = self.agent.run(tap, spec, reset, deadline=deadline, log=self._say)
        except EnvFailure as exc:
            outcome = AgentOutcome(end="error", error=str(exc))
        except Exception as exc:  # an agent or harness bug: recorded, and the run goes on
            outcome = AgentOutcome(end="error", error=f"{type(exc).__name__}: {exc}")
            self._say(f"{spec.key}: agent raised\n{traceback.format_exc()}")
        wall = time.monotonic() - t0
        status = exit_status(outcome, tap)
        if tap.failure is not None and status is ExitStatus.INFRA_ERROR:
            outcome.error = str(tap.failure)
        if tap.episode_id and tap.observation is not None:
            session.finish(tap.episode_id)
        obs = tap.observation
        done = obs is not None and obs.done
        return EpisodeResult(
            key=spec.key, task=spec.task.name, tier=getattr(obs, "difficulty", None) or spec.task.tier,
            variant=spec.task.variant, sample=spec.sample, seed=spec.seed, episode_id=tap.episode_id,
            task_hash=session.task_hash() if obs is not None else None,
            resolved=bool(done and obs.resolved), final_score=obs.final_score if done else None,
            visible_passed=getattr(obs, "tests_passed", None), visible_total=getattr(obs, "tests_total", None),
            hidden_passed=getattr(obs, "hidden_tests_passed", None), hidden_total=getattr(obs, "hidden_tests_total", None),
            steps=int(getattr(obs, "step_count", 0) or 0), end_reason=getattr(obs, "end_reason", None) if done else None,
            exit_status=status, error=outcome.error,
            actions=dict(tap.actions), model_calls=outcome.model_calls, parse_errors=outcome.parse_errors,
            prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
            wall_s=round(wall, 4), attempts=attempt,
            isolation=session.isolation() if obs is not None else None, started_at=round(started_at, 3),
        )

    def _play(self, spec: EpisodeSpec) -> EpisodeResult | None:
        if self._stop.is_set():
            return None
        with self._lock:
            self.progress.running += 1
        try:
            for attempt in range(1, self.options.retries + 2):
                row = self._attempt(spec, attempt)
                if row.exit_status is not ExitStatus.INFRA_ERROR or attempt > self.options.retries \
                        or self._stop.is_set():
                    break
                self._say(f"{spec.key}: infrastructure error, retrying ({attempt}/{self.options.retries}): {row.error}")
                with self._lock:
                    self.progress.retries += 1
            if row.error:
                self._say(f"{spec.key}: {row.exit_status.value}: {row.error}")
            self._write(row)
            return row
        finally:
            with self._lock:
                self.progress.running -= 1

    def _write(self, row: EpisodeResult) -> None:
        line = row.model_dump_json() + "\n"
        with self._lock:
            with self.results_path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            p = self.progress
            p.done += 1
            p.statuses[row.exit_status.value] += 1
            if row.counted:
                p.counted += 1
                p.resolved += int(row.resolved)
                p.score_sum += row.final_score or 0.0
            if self.on_episode is not None:
                self.on_episode(row)

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    # -- the run ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Start no new episode (running ones finish and are recorded)."""
        self._stop.set()

    def run(self) -> EvalOutcome:
        """Play every episode not finished yet, then write ``report.json`` and ``report.html``.

        Raises:
            EvaluationError: the output directory or ``--resume`` does not fit the options.
        """
        finished = self._prepare()
        self._log = _Log(self.dir / "eval.log")
        self._recorder = recorder_at(self.dir / "trajectories.sqlite3")
        todo = [s for s in self.plan if s.key not in finished]
        self.progress = Progress(total=len(self.plan), skipped=len(self.plan) - len(todo))
        created = _now()
        self._say(f"run: {len(todo)} episodes to play, {len(finished)} finished earlier, "
                  f"{self.options.workers} workers, agent {self.agent.describe()}")
        interrupted = False
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.options.workers),
                                    thread_name_prefix="tracefix-eval") as pool:
                futures = [pool.submit(self._play, spec) for spec in todo]
                try:
                    for future in as_completed(futures):
                        future.result()
                except KeyboardInterrupt:
                    interrupted = True
                    self.stop()
                    for f in futures:
                        f.cancel()
                except Exception as exc:  # writing results failed: stop, and say so
                    self._failure = f"{type(exc).__name__}: {exc}"
                    self._say(f"harness failure: {traceback.format_exc()}")
                    self.stop()
                    for f in futures:
                        f.cancel()
        finally:
            for session in self._sessions:
                try:
                    session.close()
                except Exception:  # noqa: S110 - closing is best effort
                    pass
        report = self.write_report(created=created, interrupted=interrupted)
        self._log.close()
        self._log = None
        return EvalOutcome(report=report, output_dir=self.dir, interrupted=interrupted, harness_error=self._failure)

    def identity(self, rows: Sequence[EpisodeResult]) -> dict[str, Any]:
        """Package, Python, sandbox and task identities of the run."""
        from tracefix_rl._version import __version__

        packs = sorted({t.pack for t in self.tasks if t.pack})
        sources = []
        for pack in packs:
            from tracefix_rl.data.tasks import open_pack

            sources.append(open_pack(pack).identity)
        digest = hashlib.sha256("".join(f"{t.task_hash}:{t.variant};" for t in self.tasks).encode()).hexdigest()
        out: dict[str, Any] = {
            "package_version": __version__, "python_version": platform.python_version(),
            "isolation": sorted({r.isolation for r in rows if r.isolation}),
            "task_source": sources or ["builtin"], "selected_tasks_hash": digest,
            "environment": self.options.env_url or "in-process",
        }
        copied = [s for s in self._sessions if isinstance(s, RemoteSession)]
        if copied:
            out["trajectories_copied"] = sum(s.copied for s in copied)
            out["trajectory_copy_errors"] = [e for s in copied for e in s.copy_errors][:20]
        return out

    def write_report(self, *, created: str | None = None, interrupted: bool = False) -> EvalReport:
        """Build the report from ``results.jsonl`` and write ``report.json`` (and ``report.html``)."""
        rows = read_results(self.results_path)
        planned = [s.key for s in self.plan]
        p = self.progress
        run = {"id": self.dir.name, "created": created or _now(), "finished": _now(),
               "completed": not interrupted and self._failure is None and p.done + p.skipped == p.total,
               "episodes_this_run": p.done, "skipped_as_finished": p.skipped, "retries": p.retries,
               "wall_s": round(p.elapsed_s, 2),
               "episodes_per_minute": round(60 * p.done / p.elapsed_s, 2) if p.done and p.elapsed_s else None}
        if self._failure:
            run["harness_error"] = self._failure
        latest = latest_rows(rows)
        report = build_report(rows, planned, samples=self.options.samples, config=self.config(),
                              identity=self.identity([latest[k] for k in planned if k in latest]), run=run)
        (self.dir / "report.json").write_text(report.to_json() + "\n", encoding="utf-8")
        if self.options.html:
            from tracefix_rl.evaluation._html import render_html

            (self.dir / "report.html").write_text(render_html(report), encoding="utf-8")
        return report


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by a killed run, so appended rows start on a line of their own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    return [] if a == b else [f"{path}: {a!r} then, {b!r} now"]
