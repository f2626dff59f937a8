"""The LLM agent loop behind ``inference.py``: one model call per step, through the ``openai`` client.

Contract (the hackathon's, see ``seed-projects.md`` §5):

* stdout carries only three line types, one ``[START]`` and one ``[END]`` per task and one
  ``[STEP]`` right after every ``env.step``::

      [START] task=<id> env=<benchmark> model=<model>
      [STEP] step=<n> action=<ACTION_TYPE> reward=<0.00> done=<true|false> error=<msg|null>
      [END] success=<true|false> steps=<n> score=<0.00> rewards=<r1,r2,...>

  ``[END]`` is printed on every path (normal end, kill switch, deadline, exception). Every
  score is rounded to two decimals and *then* clamped by :func:`tracefix_rl.core.scoring.clamp_score`
  (to [0.01, 0.98]), so the printed value is strictly inside (0, 1). Diagnostics go to stderr.
* Actions come from ``chat.completions.parse(response_format=CodeAction)``; if that fails, from
  ``chat.completions.create`` plus JSON extraction. A reply that is not a valid action is fed back
  to the model as ``PARSE_ERROR: ...`` (with the schema violation) and asked again; it costs no
  environment step.
* Kill switches end the episode with a SUBMIT (so it is graded, recorded and scored by the
  environment): ``max_parse_errors`` consecutive unusable replies (``kill_model_errors`` when
  every one of them was a failed call to the endpoint rather than a reply that did not parse),
  or the same action (type and arguments) chosen ``max_repeats`` times in a row on unchanged
  code. Different edits of the same type are not a loop. The last step of ``max_steps`` is a
  SUBMIT (``step_budget``).
* A global deadline (default 17 min, under the 20 min limit) stops model calls: the current
  episode is submitted and the remaining tasks are reset and submitted without model calls.
* ``success`` is the environment's ``resolved`` flag: the episode ended with every FAIL_TO_PASS and
  PASS_TO_PASS test, visible and hidden, passing (or, if ``success_threshold`` is set,
  ``score >= success_threshold``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from pydantic import ValidationError

from tracefix_rl.core.models import CodeAction
from tracefix_rl.core.scoring import SCORE_MIN, clamp_score
from tracefix_rl.data.tasks import GRADED_TASKS

__all__ = [
    "DEFAULT_TASKS",
    "SYSTEM_PROMPT",
    "AgentConfig",
    "EpisodeSummary",
    "ModelCallError",
    "ModelParseError",
    "ask_model",
    "extract_json",
    "format_end",
    "format_start",
    "format_step",
    "observation_text",
    "parse_action",
    "parse_error_feedback",
    "run_episode",
    "run_tasks",
]

DEFAULT_TASKS: tuple[str, ...] = GRADED_TASKS
"""The tasks :func:`run_tasks` runs by default: the graded tasks."""

SYSTEM_PROMPT = """\
You are debugging a small Python program. Its tests fail; make them pass with minimal edits,
then submit. Reply with exactly ONE JSON object (no prose, no code fences) with these keys:

  thought         string: brief reasoning (Observation / Diagnosis / Plan)
  action_type     one of VIEW_CODE, RUN_TESTS, TRACE, REPLACE_LINES, UNDO_EDIT,
                  RESET_TO_ORIGINAL, SUBMIT
  start_line      integer or null   (REPLACE_LINES: first line to replace, 1-based)
  end_line        integer or null   (REPLACE_LINES: last line to replace, inclusive)
  new_code_block  string or null    (REPLACE_LINES: the replacement lines)
  test_name       string or null    (TRACE: the failing test to trace)
  trace_format    null

Actions:
- RUN_TESTS runs the visible tests. TRACE shows the line-by-line execution of a failing test.
- REPLACE_LINES replaces lines start_line..end_line with new_code_block. Write the block with
  the exact indentation the lines need (or with no indentation on its first line to keep the
  original indentation). Use the line numbers shown in the listing.
- UNDO_EDIT reverts your last edit; RESET_TO_ORIGINAL restores the original program.
- SUBMIT ends the episode: the program is graded on the visible AND hidden tests.

Policy: read the failing test output, find the faulty line, fix it with REPLACE_LINES, run the
tests again, and SUBMIT as soon as all visible tests pass. Do not repeat an action that changed
nothing. Every step costs a little score.
"""


class ModelParseError(Exception):
    """The model's reply could not be turned into a :class:`CodeAction` (message says why)."""

    def __init__(self, message: str, raw_response: str = "") -> None:
        super().__init__(message)
        self.raw_response = raw_response


class ModelCallError(ModelParseError):
    """The endpoint gave no reply at all (connection, HTTP or timeout error): not a parse error."""


@dataclass
class AgentConfig:
    """Settings of the agent loop (``inference.py`` fills these from environment variables)."""

    model_name: str = "openai/gpt-oss-20b"
    benchmark: str = "tracefix_rl"
    max_steps: int = 50
    """Steps per episode; the last one is always a SUBMIT."""
    temperature: float = 0.0
    max_tokens: int | None = 1024
    top_p: float | None = None
    max_parse_errors: int = 3
    """Consecutive unusable replies before the parse-error kill switch."""
    max_repeats: int = 3
    """Identical actions on unchanged code, in a row, before the loop kill switch."""
    deadline_s: float = 17 * 60.0
    """Seconds (from the start of :func:`run_tasks`) after which no more model calls are made."""
    success_threshold: float | None = None
    difficulty: str | None = None
    """Passed to ``reset`` with the task id (the task id decides the task)."""
    seed: int | None = 0
    show_thought: bool = False
    history_turns: int = 4
    """Previous (observation, action) exchanges kept in the prompt."""
    output_chars: int = 3000
    """Longest ``last_execution_output`` shown to the model."""


@dataclass
class EpisodeSummary:
    """What one task's run produced (the values printed on its ``[END]`` line)."""

    task: str
    success: bool = False
    steps: int = 0
    score: float = SCORE_MIN
    rewards: list[float] = field(default_factory=list)
    end: str = "error"
    """``submitted``, ``step_budget``, ``kill_parse_errors``, ``kill_model_errors``, ``kill_loop``,
    ``deadline`` or ``error``."""
    model_calls: int = 0
    parse_errors: int = 0
    model_errors: int = 0
    """Model calls that got no reply (counted in ``parse_errors`` too)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Token usage as the endpoint reported it (0 when it reports none)."""
    error: str | None = None
    """The last thing that went wrong: the exception that ended the episode (``end`` is
    ``error``), else the last unusable model reply's parse error, if any."""


# -- the three stdout lines ---------------------------------------------------------------------


def _money(x: float) -> str:
    return f"{(round(float(x), 2) or 0.0):.2f}"  # "or 0.0" turns -0.0 into 0.0


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def format_start(task: str, env: str, model: str) -> str:
    """``[START] task=... env=... model=...``."""
    return f"[START] task={_one_line(task)} env={_one_line(env)} model={_one_line(model)}"


def format_step(step: int, action: str, reward: float, done: bool, error: str | None) -> str:
    """``[STEP] step=n action=A reward=0.00 done=false error=null`` (error text on one line)."""
    err = _one_line(error) if error else "null"
    return f"[STEP] step={step} action={action} reward={_money(reward)} done={str(done).lower()} error={err or 'null'}"


def format_end(success: bool, steps: int, score: float, rewards: Sequence[float]) -> str:
    """``[END] success=... steps=n score=0.00 rewards=r1,r2`` with the score clamped."""
    joined = ",".join(_money(r) for r in rewards)
    return f"[END] success={str(success).lower()} steps={steps} score={clamp_score(score):.2f} rewards={joined}"


# -- talking to the model -----------------------------------------------------------------------


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (code fences and surrounding prose tolerated)."""
    stripped = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.S)
    if fence:
        stripped = fence.group(1).strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
        decoder = json.JSONDecoder()
        for match in re.finditer(r"\{", stripped):
            try:
                value, _ = decoder.raw_decode(stripped[match.start():])
                break
            except ValueError:
                continue
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise ValueError("no JSON object found in the reply")
    return value


def parse_action(text: str) -> CodeAction:
    """The action in a model reply: its first JSON object (see :func:`extract_json`), validated.

    Raises :class:`ModelParseError` saying what was wrong (no JSON object, or which field breaks
    the schema).
    """
    try:
        data = extract_json(text)
    except ValueError as exc:
        raise ModelParseError(f"reply is not a JSON object ({exc})", text) from None
    return _validate(data, text)


def parse_error_feedback(exc: Exception) -> str:
    """What the model is told when its reply was not a valid action (``PARSE_ERROR: ...``)."""
    return (f"PARSE_ERROR: {exc}. Reply with exactly one JSON object with the keys thought, action_type, "
            "start_line, end_line, new_code_block, test_name, trace_format, and nothing else.")


def _schema_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ())) or "(object)"
        parts.append(f"field '{loc}': {err.get('msg', 'invalid')}")
    return "JSON schema violation: " + "; ".join(parts)


def _validate(data: Any, raw: str) -> CodeAction:
    if isinstance(data, CodeAction):
        return data
    try:
        return CodeAction.model_validate(data)
    except ValidationError as exc:
        raise ModelParseError(_schema_error(exc), raw) from None


def _count_usage(summary: EpisodeSummary | None, completion: Any) -> None:
    usage = getattr(completion, "usage", None)
    if summary is not None and usage is not None:
        summary.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        summary.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)


def ask_model(client: Any, cfg: AgentConfig, messages: list[dict[str, str]], *,
              usage: EpisodeSummary | None = None) -> tuple[CodeAction, str]:
    """One action from the model: structured output first, then plain completion + JSON extraction.

    Returns the action and the reply text to keep in the history. Raises
    :class:`ModelParseError` if neither path yields a valid action, :class:`ModelCallError`
    (a subclass) if the endpoint did not reply at all. The token usage of every completion is
    added to ``usage`` when given.
    """
    common: dict[str, Any] = {"model": cfg.model_name, "messages": messages, "temperature": cfg.temperature}
    if cfg.max_tokens:
        common["max_tokens"] = cfg.max_tokens
    if cfg.top_p is not None:
        common["top_p"] = cfg.top_p
    first_error = ""
    try:
        parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
        completion = parse(response_format=CodeAction, **common)
        _count_usage(usage, completion)
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            raise ModelParseError(f"model refusal: {message.refusal}", str(message.refusal))
        raw = message.content or ""
        if message.parsed is not None:
            action = _validate(message.parsed, raw)
            return action, action.model_dump_json(exclude_none=True)
        first_error = "structured output was empty"
    except ModelParseError:
        raise
    except Exception as exc:  # unsupported response_format, invalid JSON, HTTP error: fall back
        first_error = _one_line(str(exc))[:300]
    try:
        completion = client.chat.completions.create(stream=False, **common)
        _count_usage(usage, completion)
        raw = (completion.choices[0].message.content or "").strip()
    except Exception as exc:
        raise ModelCallError(f"model call failed: {first_error} | fallback: {_one_line(str(exc))[:300]}") from exc
    action = parse_action(raw)
    return action, action.model_dump_json(exclude_none=True)


# -- what the model sees ------------------------------------------------------------------------


def observation_text(obs: Any, cfg: AgentConfig) -> str:
    """The observation rendered for the model from typed fields only."""
    lines = [f"task: {obs.task_name} ({obs.difficulty})", f"step {obs.step_count}, {obs.steps_remaining} steps left"]
    if obs.task_description:
        lines.append("description: " + obs.task_description.strip())
    if obs.tests_total:
        all_pass = obs.tests_passed == obs.tests_total
        lines.append(f"visible tests passing: {obs.tests_passed}/{obs.tests_total}"
                     + (" -- ALL PASS: submit now" if all_pass else ""))
        failing = [r for r in obs.test_results if not r.passed]
        for r in failing[:5]:
            lines.append(f"  FAIL {r.test_name}: {r.call} -> {r.error_message or r.actual}")
    if obs.syntax_error:
        lines.append(f"SYNTAX ERROR at line {obs.syntax_error_line}: {obs.syntax_error_message}")
    if obs.last_action_error:
        lines.append(f"last action error: {obs.last_action_error}")
    output = obs.last_execution_output or ""
    if len(output) > cfg.output_chars:
        output = output[: cfg.output_chars] + "\n... (output cut)"
    lines.append("\nlast output:\n" + output)
    listing = "\n".join(f"{n:>3} | {text}" for n, text in sorted(obs.code_dict.items())[:400])
    lines.append("\ncurrent program:\n" + listing)
    return "\n".join(lines)


# -- the loop -----------------------------------------------------------------------------------


def _code_hash(obs: Any) -> str:
    blob = json.dumps(sorted((int(k), v) for k, v in obs.code_dict.items()))
    return hashlib.sha256(blob.encode()).hexdigest()


def _action_key(action: CodeAction) -> str:
    return json.dumps(action.model_dump(exclude={"thought"}), sort_keys=True)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_episode(env: Any, client: Any, task: str, cfg: AgentConfig, *, deadline: float,
                out: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                reset_options: dict[str, Any] | None = None,
                log: Callable[[str], None] | None = None) -> EpisodeSummary:
    """Run one task on ``env`` (a synchronous OpenEnv client) and print its three line types.

    ``reset_options`` are passed to ``env.reset`` besides the task (``variant``, ``task_pack``,
    ``episode_id``, ``seed``); ``log`` receives the diagnostics (default: stderr).
    Never raises for model or environment failures: they end the episode, and ``[END]`` is
    printed in every case.
    """
    out = out or sys.stdout
    _log = log or _stderr
    summary = EpisodeSummary(task=task)
    started = False

    def emit(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        reset_kwargs: dict[str, Any] = {"task_name": task}
        if cfg.difficulty:
            reset_kwargs["difficulty"] = cfg.difficulty
        if cfg.seed is not None:
            reset_kwargs["seed"] = cfg.seed
        reset_kwargs.update(reset_options or {})
        result = env.reset(**reset_kwargs)
        emit(format_start(task, cfg.benchmark, cfg.model_name))
        started = True
        obs = result.observation
        history: list[dict[str, str]] = []
        feedback: str | None = None
        parse_errors = call_errors = 0
        last_key: tuple[str, str] | None = None
        repeats = 0
        forced: CodeAction | None = None
        kill: str | None = None

        for step in range(1, cfg.max_steps + 1):
            if result.done:
                break
            if forced is None and clock() >= deadline:
                forced, kill = CodeAction(thought="Global deadline reached.", action_type="SUBMIT"), "deadline"
            if forced is None and step == cfg.max_steps:
                forced, kill = CodeAction(thought="Last step of the budget.", action_type="SUBMIT"), "step_budget"
            action = forced
            while action is None:
                user = observation_text(obs, cfg)
                if feedback:
                    user = feedback + "\n\n" + user
                messages = [{"role": "system", "content": SYSTEM_PROMPT}, *history[-2 * cfg.history_turns:],
                            {"role": "user", "content": user}]
                summary.model_calls += 1
                try:
                    action, reply = ask_model(client, cfg, messages, usage=summary)
                except ModelParseError as exc:
                    parse_errors += 1
                    summary.parse_errors += 1
                    summary.error = str(exc)[:1000]
                    if isinstance(exc, ModelCallError):
                        call_errors += 1
                        summary.model_errors += 1
                    _log(f"[{task}] parse error {parse_errors}/{cfg.max_parse_errors}: {exc}")
                    feedback = parse_error_feedback(exc)
                    if parse_errors >= cfg.max_parse_errors:
                        kill = "kill_model_errors" if call_errors == parse_errors else "kill_parse_errors"
                        action = CodeAction(thought="Kill switch: repeated parse errors.", action_type="SUBMIT")
                    elif clock() >= deadline:
                        kill = "deadline"
                        action = CodeAction(thought="Global deadline reached.", action_type="SUBMIT")
                    continue
                parse_errors = call_errors = 0
                feedback = None
                history += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
                if cfg.show_thought:
                    _log(f"[THOUGHT] {action.thought}")
                key = (_action_key(action), _code_hash(obs))
                repeats = repeats + 1 if key == last_key else 1
                last_key = key
                if repeats >= cfg.max_repeats:
                    _log(f"[{task}] loop kill switch: {action.action_type} repeated {repeats} times on unchanged code")
                    kill = "kill_loop"
                    action = CodeAction(thought="Kill switch: the same action on unchanged code.",
                                        action_type="SUBMIT")

            result = env.step(action)
            obs = result.observation
            reward = float(result.reward or 0.0)
            summary.rewards.append(reward)
            summary.steps = step
            emit(format_step(step, action.action_type, reward, bool(result.done), obs.last_action_error))
            if kill or action is forced:
                forced = CodeAction(thought="Finish the episode.", action_type="SUBMIT")
            if result.done:
                break

        summary.end = kill or obs.end_reason or ("submitted" if result.done else "error")
        summary.score = clamp_score(obs.final_score)
        if cfg.success_threshold is not None:
            summary.success = bool(result.done) and summary.score >= cfg.success_threshold
        else:
            summary.success = bool(result.done and obs.resolved)
    except Exception as exc:  # the [END] line must come out whatever happened
        _log(f"[{task}] episode failed: {type(exc).__name__}: {exc}")
        summary.end, summary.success = "error", False
        summary.error = f"{type(exc).__name__}: {exc}"
        summary.score = clamp_score(summary.score)
    finally:
        if not started:
            emit(format_start(task, cfg.benchmark, cfg.model_name))
        emit(format_end(summary.success, summary.steps, summary.score, summary.rewards))
    return summary


def run_tasks(env: Any, client: Any, tasks: Sequence[str], cfg: AgentConfig, *, out: TextIO | None = None,
              clock: Callable[[], float] = time.monotonic) -> list[EpisodeSummary]:
    """Run every task in order on one environment session; the deadline spans all of them."""
    deadline = clock() + cfg.deadline_s
    summaries = []
    for task in tasks:
        summaries.append(run_episode(env, client, task, cfg, deadline=deadline, out=out, clock=clock))
        s = summaries[-1]
        _stderr(f"[{task}] end={s.end} score={s.score:.2f} steps={s.steps} model_calls={s.model_calls}")
    return summaries
