"""The episode state machine: :class:`TraceFixEnvironment`."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import ResetNeededError, TaskError
from tracefix_rl.core.models import CodeAction, CodeObservation, EpisodeState, TestResult
from tracefix_rl.core.scoring import final_score
from tracefix_rl.core.trajectory import StepRecord
from tracefix_rl.data.tasks import PASS_TO_PASS, BuiltinSource, Task, TaskSource, open_task_source
from tracefix_rl.engines.judge import TestRun, describe_tally, judge, tally_runs
from tracefix_rl.engines.sandbox import Sandbox, get_sandbox
from tracefix_rl.env._editor import Buffer, SyntaxReport
from tracefix_rl.env._render import listing, localized_context, program_diff, test_report
from tracefix_rl.env.reset_args import check_reset_args

__all__ = ["Checkpoint", "TraceFixEnvironment"]


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
    * A ``reset`` that fails (an invalid argument, an unknown task) changes nothing: the
      previous episode goes on exactly as it was.
    * ``step`` never raises for anything the agent does: malformed actions and failing or
      hostile code come back as observations (``last_action_error``, test results, a penalty).
      It raises :class:`~tracefix_rl.core.errors.ResetNeededError` only if called before ``reset``.
    * The episode ends on SUBMIT or when the step budget runs out; the program is then graded on
      its visible **and** hidden tests: ``resolved`` says whether every FAIL_TO_PASS and
      PASS_TO_PASS test passes, and ``final_score`` comes from
      :func:`tracefix_rl.core.scoring.final_score` (strictly inside (0, 1)).
    * Nothing is recorded here: :class:`~tracefix_rl.env.RecordEpisodes` (or
      :func:`~tracefix_rl.env.make_env` with ``record=``) wraps an environment to record every
      episode, through the hooks :meth:`checkpoint`, :meth:`restore`, :meth:`last_step_record`
      and :meth:`refused_observation`.
    """

    def __init__(
        self,
        config: EnvConfig | None = None,
        *,
        sandbox: Sandbox | None = None,
        task_source: TaskSource | None = None,
    ) -> None:
        self.config = config or EnvConfig()
        self._sandbox = sandbox
        self._default_source = task_source
        #: Who this environment's sandbox jobs are for: the sandbox shares its workers fairly
        #: between owners (one environment = one session).
        self.sandbox_owner = uuid.uuid4().hex
        self._seeds = random.Random(self.config.seed)
        self._task: Task | None = None
        self._last_step: _Taken | None = None
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
                :mod:`tracefix_rl.env.reset_args`); :class:`~tracefix_rl.core.errors.UnknownArgumentError`
                (also a ``TypeError``) for an unknown keyword, and
                :class:`~tracefix_rl.core.errors.EpisodeIdInUseError` for a recorded ``episode_id``.
            UnknownTaskError: ``task_name`` names no task.
            TaskError: no such variant, or no task in ``difficulty``.

        Whatever it raises, the environment is left exactly as it was before the call.
        """
        check_reset_args(task_name=task_name, difficulty=difficulty, seed=seed, variant=variant,
                         episode_id=episode_id, task_pack=task_pack, unknown=unknown)
        checkpoint = self.checkpoint()
        try:
            return self._start(task_name, difficulty, seed, variant, episode_id, task_pack)
        except BaseException:
            self.restore(checkpoint)
            raise

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
        self._last_step = None
        return self._observation(output=self._intro(), reward=None, breakdown={})

    def step(self, action: CodeAction) -> CodeObservation:
        """Apply one action and return what the agent sees next (see the class contract)."""
        if self._task is None or self._buffer is None:
            raise ResetNeededError("call reset() before step()")
        self._last_step = None
        if self._state.done:
            return self._observation(
                output="The episode is over. Call reset() to start a new one.", reward=0.0, breakdown={},
                error="episode is over; call reset()",
            )
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
        self._last_step = _Taken(action, obs, before, result, started)
        return obs

    def manifest(self) -> dict[str, Any]:
        """What a replay needs to rebuild this episode exactly (recorded with every trajectory)."""
        import platform

        from tracefix_rl._version import __version__

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
            # the whole task (hidden tests included): a replay needs no pack file and no bank of
            # the same version (the store is as private as the task source it was recorded from)
            "task": self._task.to_dict(),
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
        """Release nothing: the shared sandbox outlives environments. Idempotent.

        Present so every environment can be used as a context manager and closed by servers.
        """

    @property
    def unwrapped(self) -> TraceFixEnvironment:
        """This environment (wrappers answer with the environment they wrap)."""
        return self

    @property
    def unfinished_episode_id(self) -> str | None:
        """The id of the episode in progress, or ``None`` before a reset and after the end."""
        if self._task is None or self._state.done:
            return None
        return self._state.episode_id

    # -- hooks for wrappers (recording) ---------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        """An opaque copy of the whole episode state, for :meth:`restore` (cheap: the program text
        and the bookkeeping, never a sandbox job)."""
        return Checkpoint(dict(self.__dict__), self._state.model_copy(), self._seeds.getstate(),
                          self._buffer.checkpoint() if self._buffer is not None else None)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Put the environment back exactly as it was when ``checkpoint`` was taken."""
        buffer = checkpoint.attrs.get("_buffer")
        self.__dict__.clear()
        self.__dict__.update(checkpoint.attrs)
        self._state = checkpoint.state.model_copy()
        self._seeds.setstate(checkpoint.seeds)
        if buffer is not None and checkpoint.buffer is not None:
            buffer.restore(checkpoint.buffer)

    def last_step_record(self) -> StepRecord | None:
        """What the last :meth:`step` did, for a recorder; ``None`` when that call took no step
        (before a reset, after the end) or after a reset."""
        taken = getattr(self, "_last_step", None)
        if taken is None:
            return None
        return _step_record(taken, self._buffer.source if self._buffer is not None else "",
                            self._state.isolation)

    def refused_observation(self, problem: str) -> CodeObservation:
        """An observation saying the last action was not applied because of ``problem`` (a fault
        outside the agent's control, ``infra_error``); the episode is as it was before it."""
        return self._observation(output=f"Error: {problem}.", reward=0.0, breakdown={}, error=problem, infra=True)

    def __enter__(self) -> TraceFixEnvironment:
        return self

    def __repr__(self) -> str:
        return "<TraceFixEnvironment>"

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
        kept = buf.chars_outside(start, end)
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
        from tracefix_rl.env._trace_action import trace_test

        task, buf = self._task, self._buffer
        assert task is not None and buf is not None

        def failing() -> list[str]:
            run = self._last_run if self._last_run is not None else self._evaluate(task.tests)
            return [r.test_name for r in run.results if not r.passed]

        reply = trace_test(source=buf.source, syntax=buf.syntax(), tests=task.tests, test_name=action.test_name,
                           failing=failing, config=self.config, sandbox=self.sandbox, owner=self.sandbox_owner,
                           trace_format=action.trace_format)
        if reply.invalid:
            terms["invalid_action"] = self.config.reward.invalid_action
        return _Outcome(reply.output, error=reply.error, trace=reply.trace, infra_error=reply.infra_error)

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
    from tracefix_rl.engines.sandbox import Outcome

    results = [TestResult(test_name=t.name, passed=False, status="not_run", call=t.describe_call(),
                          expected=t.describe_expectation(),
                          error_message="not run: the program has a syntax error") for t in tests]
    return TestRun(results=results, outcome=Outcome.OK,
                   syntax_error={"line": syntax.line, "message": syntax.message, "text": ""},
                   failing_line=syntax.line)


@dataclass(frozen=True)
class Checkpoint:
    """An environment's state at one moment (see :meth:`TraceFixEnvironment.checkpoint`)."""

    attrs: dict[str, Any]
    state: EpisodeState
    seeds: Any
    buffer: Any


@dataclass(frozen=True)
class _Taken:
    action: CodeAction
    observation: CodeObservation
    code_before: str
    result: _Outcome
    started: float


def _step_record(taken: _Taken, after: str, isolation: str) -> StepRecord:
    from tracefix_rl.core.trajectory import observation_hash

    obs, before, result, run = taken.observation, taken.code_before, taken.result, taken.result.run
    diff = program_diff(before, after)
    dumped = obs.model_dump(mode="json")
    return StepRecord(
        episode_id=obs.episode_id, step=obs.step_count, action=taken.action.model_dump(mode="json"),
        observation=obs, observation_hash=observation_hash(dumped), reward=obs.reward or 0.0,
        reward_breakdown=dict(obs.reward_breakdown), cumulative_reward=obs.cumulative_reward,
        done=obs.done, error=obs.last_action_error, diff=diff, code_before=before, code_after=after,
        pass_rate=(run.passed / run.total) if run and run.total else None,
        test_results=[dict(r) for r in dumped["test_results"]] if run else [],
        duration_ms=(time.perf_counter() - taken.started) * 1000,
        extra={"hidden_passed": result.hidden.passed if result.hidden else None,
               "hidden_total": result.hidden.total if result.hidden else None,
               "end_reason": result.end_reason, "isolation": isolation},
        observation_json=dumped,
    )
