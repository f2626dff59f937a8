"""The episode state machine: :class:`TraceFixEnvironment`."""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracefix_rl.config import EnvConfig
from tracefix_rl.env._editor import Buffer, SyntaxReport
from tracefix_rl.env._render import listing, localized_context, test_report
from tracefix_rl.env._reset import check_reset_args
from tracefix_rl.env._testing import TestRun, describe_tally, judge, tally_runs
from tracefix_rl.errors import ResetNeededError, TaskError, TraceFixError, TrajectoryError
from tracefix_rl.models import CodeAction, CodeObservation, EpisodeState, TestResult
from tracefix_rl.sandbox import Sandbox, get_sandbox
from tracefix_rl.scoring import final_score
from tracefix_rl.tasks import PASS_TO_PASS, Task
from tracefix_rl.tasks._source import BuiltinSource, TaskSource, open_task_source

__all__ = ["Recorder", "StepRecord", "TraceFixEnvironment", "observation_hash"]


def observation_hash(obs: CodeObservation) -> str:
    """SHA-256 of everything the agent sees, minus the episode id and wall-clock timings.

    Two runs of the same actions on the same task and seed give the same hashes: this is what
    replay verification compares.
    """
    data = obs.model_dump(mode="json", exclude={"episode_id"})
    for r in data.get("test_results", []):
        r.pop("duration_ms", None)
    blob = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class StepRecord:
    """Everything about one step, handed to the :class:`Recorder` before ``step`` returns."""

    episode_id: str
    step: int
    action: dict[str, Any]
    observation: CodeObservation
    observation_hash: str
    reward: float
    reward_breakdown: dict[str, float]
    cumulative_reward: float
    done: bool
    error: str | None
    diff: str
    code_before: str
    code_after: str
    pass_rate: float | None
    test_results: list[dict[str, Any]]
    duration_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder(Protocol):
    """Receives every episode's manifest and steps (see :mod:`tracefix_rl.trajectory`).

    ``record_step`` must make the step durable before returning: the environment returns the
    observation only afterwards. If ``start_episode`` or ``record_step`` raises, the environment
    undoes the reset or the step as a whole. A recorder may also have
    ``release_episode(episode_id)``: the environment calls it when it abandons an unfinished
    episode (a new reset, ``close``), so the recorder can drop what it keeps about it.
    """

    def start_episode(self, manifest: dict[str, Any], observation: CodeObservation) -> None: ...

    def record_step(self, record: StepRecord) -> None: ...

    def end_episode(self, episode_id: str, final_score: float | None, end_reason: str | None) -> None: ...


def _round(x: float) -> float:
    return round(x, 6)


class TraceFixEnvironment:
    """An agent repairs one buggy Python program per episode.

    Call :meth:`reset` to start an episode, then :meth:`step` with :class:`CodeAction` until
    the observation says ``done``. Contracts:

    * ``reset`` with the same ``task_name``, ``difficulty``, ``seed`` and ``variant`` always
      gives the same episode; with ``seed=None`` the next seed comes from the environment's own
      generator and is reported in :attr:`state`. That generator is seeded by
      ``EnvConfig.seed``, or from fresh OS entropy when it is ``None`` (the default), so
      separate environments and processes do not draw the same task sequence.
    * A ``reset`` that fails (an invalid argument, an unknown task, a recorder that cannot
      store the episode) changes nothing: the previous episode goes on exactly as it was.
    * ``step`` never raises for anything the agent does: malformed actions and failing or
      hostile code come back as observations (``last_action_error``, test results, a penalty).
      It raises :class:`~tracefix_rl.errors.ResetNeededError` only if called before ``reset``.
    * The episode ends on SUBMIT or when the step budget runs out; the program is then graded on
      its visible **and** hidden tests: ``resolved`` says whether every FAIL_TO_PASS and
      PASS_TO_PASS test passes, and ``final_score`` comes from
      :func:`tracefix_rl.scoring.final_score` (strictly inside (0, 1)).
    * Every step is handed to the recorder (if any) before the observation is returned, and a
      step is recorded and applied together or not at all: if recording fails, the episode is
      restored to its state before the action and the observation says so (``infra_error``,
      ``last_action_error``; the step was not taken, so it can be retried).
    """

    def __init__(
        self,
        config: EnvConfig | None = None,
        *,
        sandbox: Sandbox | None = None,
        recorder: Recorder | None = None,
        task_source: TaskSource | None = None,
    ) -> None:
        self.config = config or EnvConfig()
        self._sandbox = sandbox
        if recorder is None and self.config.record:
            from tracefix_rl.trajectory import default_recorder

            recorder = default_recorder()
        self.recorder = recorder
        self._default_source = task_source
        #: Who this environment's sandbox jobs are for: the sandbox shares its workers fairly
        #: between owners (one environment = one session).
        self.sandbox_owner = uuid.uuid4().hex
        self._seeds = random.Random(self.config.seed)
        self._task: Task | None = None
        self._state = EpisodeState()
        self._buffer: Buffer | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def sandbox(self) -> Sandbox:
        """The executor used for every job (the shared default unless one was given)."""
        if self._sandbox is None:
            self._sandbox = get_sandbox()
        return self._sandbox

    @property
    def state(self) -> EpisodeState:
        """A copy of the current episode's bookkeeping."""
        return self._state.model_copy()

    @property
    def task(self) -> Task | None:
        """The current task (including hidden parts: never show it to the agent)."""
        return self._task

    def reset(
        self,
        task_name: str | None = None,
        difficulty: str | None = None,
        seed: int | None = None,
        variant: int | None = None,
        episode_id: str | None = None,
        task_pack: str | None = None,
        **unknown: Any,
    ) -> CodeObservation:
        """Start a new episode and return its first observation.

        Args:
            task_name: a task name or alias (``tracefix tasks list``). If omitted, a task is
                drawn from ``seed`` (within ``difficulty`` if given).
            difficulty: ``easy``, ``medium`` or ``hard``; used only when ``task_name`` is omitted.
            seed: makes the episode reproducible; also seeds ``random`` inside every job.
            variant: ``0`` or ``None`` for the task as written; ``k >= 1`` for its k-th
                generated variant (deterministic).
            episode_id: the id to record the episode under (a fresh uuid if omitted); an id the
                recorder already holds is refused.
            task_pack: path of a task pack to draw from instead of the built-in bank (or the
                source given to the constructor).

        Raises:
            ResetArgumentError: an argument is invalid (``field`` names it; the rules are in
                :mod:`tracefix_rl.env._reset`); :class:`~tracefix_rl.errors.UnknownArgumentError`
                (also a ``TypeError``) for an unknown keyword, and
                :class:`~tracefix_rl.errors.EpisodeIdInUseError` for a recorded ``episode_id``.
            UnknownTaskError: ``task_name`` names no task.
            TaskError: no such variant, or no task in ``difficulty``.
            TrajectoryError: the recorder could not store the new episode.

        Whatever it raises, the environment is left exactly as it was before the call.
        """
        check_reset_args(task_name=task_name, difficulty=difficulty, seed=seed, variant=variant,
                         episode_id=episode_id, task_pack=task_pack, unknown=unknown)
        seeds, checkpoint = self._seeds.getstate(), self._checkpoint()
        previous = self._state.episode_id if self._task is not None and not self._state.done else None
        try:
            obs = self._start(task_name, difficulty, seed, variant, episode_id, task_pack)
        except BaseException:
            self._seeds.setstate(seeds)
            self._restore(checkpoint)
            raise
        if previous is not None:
            self._release(previous)
        return obs

    def _start(self, task_name: str | None, difficulty: str | None, seed: int | None, variant: int | None,
               episode_id: str | None, task_pack: str | None) -> CodeObservation:
        if seed is None:
            seed = self._seeds.randrange(2**31)
        source = open_task_source(task_pack) if task_pack else (self._default_source or BuiltinSource())
        task = source.get(task_name) if task_name else source.sample(seed, difficulty)
        if variant:
            task = source.variant(task, variant)
        if not task.has_roles:
            raise TaskError(f"task {task.name!r} has no FAIL_TO_PASS / PASS_TO_PASS test roles: it was validated "
                            "by an older TraceFix-RL; rebuild or re-import its pack")
        self._source = source
        self._task = task
        self._buffer = Buffer(task.buggy)
        self._seed = seed
        self._anchor: int | None = None
        self._last_eval: list[bool] | None = None
        self._last_run: TestRun | None = None
        self._last_action_key: tuple[object, ...] | None = None
        self._repeat_count = 0
        max_steps = task.max_steps or self.config.max_steps
        self._state = EpisodeState(
            episode_id=episode_id or uuid.uuid4().hex, step_count=0, task_name=task.name,
            difficulty=task.difficulty, seed=seed, variant=variant or 0, max_steps=max_steps,
            isolation=self.sandbox.isolation,
        )
        obs = self._observation(output=self._intro(), reward=None, breakdown={})
        if self.recorder is not None:
            try:
                self.recorder.start_episode(self.manifest(), obs)
            except TraceFixError:
                raise
            except Exception as exc:
                raise TrajectoryError(f"the episode could not be recorded ({type(exc).__name__}: {exc}); "
                                      "nothing changed") from exc
        return obs

    def step(self, action: CodeAction) -> CodeObservation:
        """Apply one action and return what the agent sees next (see the class contract)."""
        if self._task is None or self._buffer is None:
            raise ResetNeededError("call reset() before step()")
        if self._state.done:
            return self._observation(
                output="The episode is over. Call reset() to start a new one.", reward=0.0, breakdown={},
                error="episode is over; call reset()",
            )
        checkpoint = self._checkpoint() if self.recorder is not None else None
        started = time.perf_counter()
        before = self._buffer.source
        self._state.step_count += 1
        cfg = self.config.reward
        terms: dict[str, float] = {"step_cost": cfg.step_cost}
        key = self._action_key(action, before)
        self._repeat_count = self._repeat_count + 1 if key == self._last_action_key else 0
        self._last_action_key = key
        if self._repeat_count:
            terms["repeated_action"] = cfg.repeated_action * self._repeat_count

        handler = getattr(self, "_do_" + action.action_type.lower())
        result: _Outcome = handler(action, terms)

        budget_over = self._state.step_count >= self._state.max_steps and not result.done
        if budget_over:  # the budget ends the episode whatever the step reported
            result = self._finish(terms, end_reason="step_budget", prefix=result.output)
            if not result.done:  # grading itself hit a sandbox fault: end unscored, never go on
                self._state.done = True
                result = _Outcome(result.output + "\nStep budget exhausted: the episode ends without a score.",
                                  error=result.error, done=True, end_reason="step_budget", infra_error=True)
        reward = _round(sum(terms.values()))
        self._state.cumulative_reward = _round(self._state.cumulative_reward + reward)
        obs = self._observation(output=result.output, reward=reward, breakdown=terms, error=result.error,
                                run=result.run, hidden=result.hidden, trace=result.trace,
                                end_reason=result.end_reason, infra=result.infra_error)
        if self.recorder is not None:
            failure = self._record(action, obs, before, result, started)
            if failure is not None:
                self._restore(checkpoint)
                return self._unrecorded(failure)
        return obs

    def manifest(self) -> dict[str, Any]:
        """What a replay needs to rebuild this episode exactly (recorded with every trajectory)."""
        import platform

        from tracefix_rl import __version__

        assert self._task is not None
        return {
            "format": "tracefix-trajectory/1",
            "package_version": __version__,
            "python_version": platform.python_version(),
            "isolation": self._state.isolation,
            "episode_id": self._state.episode_id,
            "task_source": self._source.identity,
            "task_name": self._task.name,
            "task_hash": self._task.content_hash,
            "tests_hash": self._task.tests_hash,
            "visible_tests": [{"name": t.name, "call": t.describe_call()} for t in self._task.tests],
            "difficulty": self._task.difficulty,
            "seed": self._seed,
            "variant": self._state.variant,
            "max_steps": self._state.max_steps,
            "reward_config": self.config.reward.to_dict(),
            "limits": self.config.limits.to_dict(),
            "env_config": {"max_program_chars": self.config.max_program_chars,
                           "context_radius": self.config.context_radius,
                           "context_max_chars": self.config.context_max_chars,
                           "trace_max_frames": self.config.trace_max_frames,
                           "trace_max_chars": self.config.trace_max_chars},
        }

    def close(self) -> None:
        """Tell the recorder an unfinished episode is abandoned; the shared sandbox and the recorder
        outlive environments. Idempotent.

        Present so every environment can be used as a context manager and closed by servers.
        """
        if self._task is not None and not self._state.done and self._state.episode_id:
            self._release(self._state.episode_id)

    def __enter__(self) -> TraceFixEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- actions ------------------------------------------------------------------------------

    def _do_view_code(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        assert self._buffer is not None
        buf, anchor = self._buffer, self._anchor
        return _Outcome(buf.memo(f"view:{anchor}", lambda: "=== Full Source ===\n" + listing(buf.lines, anchor)))

    def _do_run_tests(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        assert self._task is not None
        run = self._evaluate(self._task.tests)
        if run.infra_error:
            return _Outcome(test_report(run, self._buffer.lines), run=run, infra_error=True,  # type: ignore[union-attr]
                            error="sandbox infrastructure error; the run was not scored, try again")
        self._shape(run, terms)
        return _Outcome(test_report(run, self._buffer.lines), run=run)  # type: ignore[union-attr]

    def _do_replace_lines(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        buf = self._buffer
        assert buf is not None
        cfg = self.config.reward
        problem = buf.range_error(action.start_line, action.end_line)
        if problem is None and action.new_code_block is None:
            problem = "REPLACE_LINES needs new_code_block (use an empty string to delete lines)."
        if problem:
            terms["invalid_action"] = cfg.invalid_action
            return _Outcome(f"Invalid action: {problem}", error=problem)
        start, end = int(action.start_line), int(action.end_line)  # type: ignore[arg-type]
        block = action.new_code_block or ""
        span = min(end, buf.line_count) - start + 1
        if not block.strip() and span > cfg.destructive_lines:
            terms["destructive_edit"] = cfg.destructive_edit
            problem = (f"Refused: an empty block would delete {span} lines (more than "
                       f"{cfg.destructive_lines}). Delete fewer lines at a time.")
            return _Outcome(problem, error=problem)
        kept = sum(len(ln) + 1 for i, ln in enumerate(buf.lines, 1) if not start <= i <= end)
        if kept + len(block) > self.config.max_program_chars:
            terms["invalid_action"] = cfg.invalid_action
            problem = (f"Refused: the program would exceed {self.config.max_program_chars} characters. "
                       "Replace lines instead of appending.")
            return _Outcome(problem, error=problem)
        lo, hi = buf.replace(start, end, block)
        self._anchor = max(1, min(hi if hi >= lo else lo, buf.line_count)) if buf.line_count else None
        syntax = buf.syntax()
        if not syntax.ok:
            terms["syntax_error"] = cfg.syntax_error
        what = f"Replaced lines {start}-{end} with {hi - lo + 1} line(s)." if hi >= lo else \
            f"Deleted lines {start}-{min(end, start + span - 1)}."
        note = f"\nWarning: the program no longer parses: {syntax.message}" if not syntax.ok else ""
        return _Outcome(what + note)

    def _do_undo_edit(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        assert self._buffer is not None
        terms["undo_reset"] = self.config.reward.undo_reset
        self._anchor = None
        if not self._buffer.undo():
            return _Outcome("Nothing to undo: the program is unchanged since the start (or the last reset).")
        return _Outcome(f"Reverted the last edit ({self._buffer.undo_depth} more can be undone).")

    def _do_reset_to_original(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        assert self._buffer is not None
        terms["undo_reset"] = self.config.reward.undo_reset
        self._anchor = None
        self._buffer.reset()
        return _Outcome("Restored the original program; the edit history is cleared.")

    def _do_trace(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        from tracefix_rl.env._trace_action import trace_step

        return trace_step(self, action, terms)

    def _do_submit(self, action: CodeAction, terms: dict[str, float]) -> _Outcome:
        return self._finish(terms, end_reason="submitted")

    # -- helpers ------------------------------------------------------------------------------

    def _evaluate(self, tests: Any) -> TestRun:
        assert self._buffer is not None
        syntax = self._buffer.syntax()
        if not syntax.ok:
            return _syntax_run(tests, syntax)
        assert self._task is not None
        return judge(self._buffer.source, tests, sandbox=self.sandbox, limits=self.config.limits, seed=self._seed,
                     entry_point=self._task.entry_point, owner=self.sandbox_owner)

    def _baseline(self) -> list[bool]:
        # Before the first evaluation, the program is the buggy one: by their stored roles, its
        # PASS_TO_PASS tests pass and its FAIL_TO_PASS tests fail (no sandbox job needed).
        if self._last_eval is None:
            assert self._task is not None
            self._last_eval = [t.role == PASS_TO_PASS for t in self._task.tests]
        return self._last_eval

    def _shape(self, run: TestRun, terms: dict[str, float]) -> None:
        assert self._task is not None
        cfg = self.config.reward
        before = self._baseline()
        now = [r.passed for r in run.results]
        f2p = p2p = 0  # change in passing FAIL_TO_PASS tests, in failing PASS_TO_PASS tests
        for test, was, now_passes in zip(self._task.tests, before, now, strict=True):
            if was != now_passes:
                if test.role == PASS_TO_PASS:
                    p2p += -1 if now_passes else 1
                else:
                    f2p += 1 if now_passes else -1
        if f2p:
            terms["fail_to_pass"] = cfg.fail_to_pass * f2p
        if p2p:
            terms["pass_to_pass"] = cfg.pass_to_pass * p2p
        if run.syntax_error is not None:
            terms["syntax_error"] = cfg.syntax_error
        self._last_eval = now
        self._last_run = run
        if run.failing_line:
            self._anchor = run.failing_line

    def _finish(self, terms: dict[str, float], *, end_reason: str, prefix: str = "") -> _Outcome:
        assert self._task is not None and self._buffer is not None
        visible = self._evaluate(self._task.tests)
        hidden = self._evaluate(self._task.hidden_tests)
        if visible.infra_error or hidden.infra_error:
            return _Outcome("The sandbox failed while grading (infrastructure error); the episode goes on. "
                            "Submit again.", error="sandbox infrastructure error while grading",
                            infra_error=True)
        self._shape(visible, terms)
        tally = tally_runs(self._task, visible, hidden)
        score = final_score(tally, steps=self._state.step_count, config=self.config.reward)
        terms["final_score"] = score
        self._state.done = True
        self._state.final_score = score
        self._state.resolved = tally.resolved
        report = test_report(visible, self._buffer.lines, hidden=hidden)
        head = "Step budget exhausted: the program was graded as it stands.\n" if end_reason == "step_budget" else ""
        out = (prefix + "\n\n" if prefix else "") + head + report + "\n\n" + describe_tally(tally, score)
        return _Outcome(out, run=visible, hidden=hidden, done=True, end_reason=end_reason)

    def _action_key(self, action: CodeAction, source: str) -> tuple[object, ...]:
        # Identical = same type and arguments on the same code; the thought does not count.
        return (action.action_type, action.start_line, action.end_line, action.new_code_block,
                action.test_name, action.trace_format, source)

    def _intro(self) -> str:
        assert self._task is not None and self._buffer is not None
        names = ", ".join(t.name for t in self._task.tests)
        return (f"Task: {self._task.name} ({self._task.difficulty}). {self._task.description}\n"
                f"The program has a bug. Visible tests: {names}. Hidden tests run at SUBMIT.\n\n"
                "=== Full Source ===\n" + listing(self._buffer.lines))

    def _observation(
        self, *, output: str, reward: float | None, breakdown: dict[str, float], error: str | None = None,
        run: TestRun | None = None, hidden: TestRun | None = None, trace: str | None = None,
        end_reason: str | None = None, infra: bool = False,
    ) -> CodeObservation:
        assert self._task is not None and self._buffer is not None
        buf, anchor, cfg = self._buffer, self._anchor, self.config
        syntax = buf.syntax()
        shown = run or self._last_run
        results: list[TestResult] = list(shown.results) if shown else []
        return CodeObservation(
            done=self._state.done, reward=reward, code_dict=self._buffer.as_dict(),
            localized_context=buf.memo(f"ctx:{anchor}", lambda: localized_context(
                buf.lines, anchor, cfg.context_radius, cfg.context_max_chars)),
            last_execution_output=output, syntax_error=not syntax.ok,
            syntax_error_message=syntax.message, syntax_error_line=syntax.line,
            test_results=results,
            tests_passed=shown.passed if shown else None, tests_total=shown.total if shown else None,
            hidden_tests_passed=hidden.passed if hidden else None,
            hidden_tests_total=hidden.total if hidden else None,
            step_count=self._state.step_count,
            steps_remaining=max(0, self._state.max_steps - self._state.step_count),
            final_score=self._state.final_score, resolved=self._state.resolved,
            last_action_error=error, task_name=self._task.name,
            difficulty=self._task.difficulty, task_description=self._task.description,
            episode_id=self._state.episode_id or "", reward_breakdown={k: _round(v) for k, v in breakdown.items()},
            cumulative_reward=self._state.cumulative_reward, end_reason=end_reason,  # type: ignore[arg-type]
            trace=trace, infra_error=infra,
        )

    def _checkpoint(self) -> tuple[dict[str, Any], EpisodeState, Any]:
        # Attributes are rebound by reset and step (a shallow copy keeps the old objects); the
        # episode state and the buffer are mutated in place, so they are copied.
        return (dict(self.__dict__), self._state.model_copy(),
                self._buffer.checkpoint() if self._buffer is not None else None)

    def _restore(self, checkpoint: tuple[dict[str, Any], EpisodeState, Any] | None) -> None:
        assert checkpoint is not None
        attrs, state, buffer = checkpoint
        self.__dict__.clear()
        self.__dict__.update(attrs)
        self._state = state
        if self._buffer is not None and buffer is not None:
            self._buffer.restore(buffer)

    def _release(self, episode_id: str) -> None:
        release = getattr(self.recorder, "release_episode", None)
        if release is not None:
            release(episode_id)

    def _unrecorded(self, exc: BaseException) -> CodeObservation:
        why = f"the step could not be recorded ({type(exc).__name__}: {exc})"
        problem = f"{why}; it was not applied (the episode is as it was before this action), retry it"
        return self._observation(output=f"Error: {problem}.", reward=0.0, breakdown={}, error=problem, infra=True)

    def _record(self, action: CodeAction, obs: CodeObservation, before: str, result: _Outcome,
                started: float) -> BaseException | None:
        """Hand the step to the recorder; returns the exception if it could not be recorded."""
        assert self.recorder is not None and self._buffer is not None
        try:
            self.recorder.record_step(self._step_record(action, obs, before, result, started))
        except Exception as exc:
            return exc
        if obs.done:  # the step is durable; a failure to store the ending must not undo it
            try:
                self.recorder.end_episode(obs.episode_id, obs.final_score, result.end_reason)
            except Exception as exc:
                import logging

                logging.getLogger(__name__).warning("could not store the end of episode %s: %s",
                                                    obs.episode_id, exc)
        return None

    def _step_record(self, action: CodeAction, obs: CodeObservation, before: str, result: _Outcome,
                     started: float) -> StepRecord:
        assert self._buffer is not None
        after = self._buffer.source
        diff = "" if before == after else "".join(difflib.unified_diff(
            before.splitlines(True), after.splitlines(True), "before/program.py", "after/program.py"))
        run = result.run
        return StepRecord(
            episode_id=obs.episode_id, step=obs.step_count, action=action.model_dump(mode="json"),
            observation=obs, observation_hash=observation_hash(obs), reward=obs.reward or 0.0,
            reward_breakdown=dict(obs.reward_breakdown), cumulative_reward=obs.cumulative_reward,
            done=obs.done, error=obs.last_action_error, diff=diff, code_before=before, code_after=after,
            pass_rate=(run.passed / run.total) if run and run.total else None,
            test_results=[r.model_dump(mode="json") for r in (run.results if run else [])],
            duration_ms=(time.perf_counter() - started) * 1000,
            extra={"hidden_passed": result.hidden.passed if result.hidden else None,
                   "hidden_total": result.hidden.total if result.hidden else None,
                   "end_reason": result.end_reason, "isolation": self._state.isolation},
        )


@dataclass
class _Outcome:
    output: str
    error: str | None = None
    run: TestRun | None = None
    hidden: TestRun | None = None
    trace: str | None = None
    done: bool = False
    end_reason: str | None = None
    infra_error: bool = False


def _syntax_run(tests: Any, syntax: SyntaxReport) -> TestRun:
    from tracefix_rl.sandbox import Outcome

    results = [TestResult(test_name=t.name, passed=False, status="not_run", call=t.describe_call(),
                          expected=t.describe_expectation(),
                          error_message="not run: the program has a syntax error") for t in tests]
    return TestRun(results=results, outcome=Outcome.OK,
                   syntax_error={"line": syntax.line, "message": syntax.message, "text": ""},
                   failing_line=syntax.line)
