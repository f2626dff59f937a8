"""Typed models at the edge of the environment: the action an agent sends, what it sees back.

Field names and meanings keep the original TraceFix-RL client contract (``thought``,
``action_type``, ``start_line``, ``end_line``, ``new_code_block``; observation ``code_dict``,
``localized_context``, ``last_execution_output``, ``syntax_error``, ``test_results``,
``step_count``, ``steps_remaining``, ``reward``, ``done``). Everything a client or grader must
read (final score, last action error, per-test results) is a typed field, never metadata.

Validation is split in two on purpose:

* **Shape** (unknown fields, unknown ``action_type``, a line number that is not an integer)
  is checked by pydantic when the action is built; over the wire that is a validation error.
* **Meaning** (line ranges against the current file, a missing block, fields that do not
  belong to the action) is checked by the environment, which answers with
  ``last_action_error`` and a small penalty and lets the episode go on. Fields that do not
  belong to an action (for example ``start_line`` on RUN_TESTS) are *ignored*, as the original
  client expects, and never change the outcome.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ACTION_TYPES",
    "ActionType",
    "CodeAction",
    "CodeObservation",
    "EpisodeState",
    "TestResult",
]

ActionType = Literal[
    "VIEW_CODE", "RUN_TESTS", "REPLACE_LINES", "UNDO_EDIT", "RESET_TO_ORIGINAL", "SUBMIT", "TRACE"
]
ACTION_TYPES: tuple[str, ...] = ActionType.__args__  # type: ignore[attr-defined]

#: Size caps on agent text. A block is parsed under a process-wide lock (``tracefix_rl.core.safe_ast``),
#: so an unbounded one would stall every session of a server, not just its own.
MAX_BLOCK_CHARS = 20_000
MAX_THOUGHT_CHARS = 20_000


class CodeAction(BaseModel):
    """One agent action.

    REPLACE_LINES replaces lines ``start_line..end_line`` (1-based, inclusive) with
    ``new_code_block``; it needs ``1 <= start_line <= end_line <= last line + 1`` (using
    ``last line + 1`` appends) and a block (an empty block deletes the lines). TRACE traces the
    test named ``test_name`` (default: the first failing visible test).
    """

    model_config = ConfigDict(extra="forbid")

    thought: str = Field(
        default="",
        max_length=MAX_THOUGHT_CHARS,
        description="Your reasoning for this action. Recorded with the step; never affects the outcome.",
    )
    action_type: ActionType = Field(
        description=(
            "VIEW_CODE: show the numbered source. RUN_TESTS: run the visible tests. "
            "REPLACE_LINES: replace start_line..end_line with new_code_block. UNDO_EDIT: revert the "
            "last edit. RESET_TO_ORIGINAL: restore the original buggy program. TRACE: show the "
            "execution trace of a failing test. SUBMIT: run visible and hidden tests and end the episode."
        )
    )
    start_line: int | None = Field(
        default=None,
        description="REPLACE_LINES only: first line to replace, an integer key of code_dict (1-based).",
    )
    end_line: int | None = Field(
        default=None,
        description=(
            "REPLACE_LINES only: last line to replace (inclusive), start_line <= end_line <= last line + 1."
        ),
    )
    new_code_block: str | None = Field(
        default=None,
        max_length=MAX_BLOCK_CHARS,
        description=(
            "REPLACE_LINES only: replacement code. If its first line has no leading whitespace the "
            "block is re-indented to start_line's indentation (relative indentation kept); if the "
            "first line is indented, the indentation is used exactly as given. Empty string deletes."
        ),
    )
    test_name: str | None = Field(
        default=None, max_length=200, description="TRACE only: the visible test to trace (default: the first failing one)."
    )
    trace_format: Literal["pretty", "cwm"] | None = Field(
        default=None,
        description="TRACE only: 'pretty' (default, readable) or 'cwm' (the raw CWM trace string as well).",
    )

    @field_validator("start_line", "end_line", mode="before")
    @classmethod
    def _coerce_line(cls, value: Any) -> Any:
        # Models often send line numbers as strings ("12"); accept exact integer text only.
        if isinstance(value, bool):
            raise ValueError("must be an integer line number, not a boolean")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


class TestResult(BaseModel):
    """The outcome of one visible test.

    ``status`` is ``passed``, ``failed`` (returned a wrong value or raised the wrong thing),
    ``error`` (raised where a value was expected), ``timeout`` or ``not_run`` (the program
    could not be loaded, or the job ended before this test).
    """

    __test__ = False  # not a pytest test class

    test_name: str
    passed: bool
    error_message: str | None = None
    status: Literal["passed", "failed", "error", "timeout", "not_run"] = "passed"
    call: str = ""
    expected: str | None = None
    actual: str | None = None
    exception: str | None = None
    line: int | None = None
    stdout: str = ""
    duration_ms: float = 0.0


class CodeObservation(BaseModel):
    """What the agent sees after ``reset`` or ``step``.

    ``reward`` is this step's reward (the sum of ``reward_breakdown``); ``final_score`` is set
    once the episode ends (SUBMIT or step budget) and lies strictly inside (0, 1). ``resolved``
    is set at the same moment: true exactly when every visible and hidden test passes (every
    FAIL_TO_PASS and PASS_TO_PASS test, as SWE-bench defines resolution); ``None`` before the end.
    """

    done: bool = False
    reward: float | None = None
    code_dict: dict[int, str] = Field(default_factory=dict)
    localized_context: str = ""
    last_execution_output: str = ""
    syntax_error: bool = False
    syntax_error_message: str | None = None
    syntax_error_line: int | None = None
    test_results: list[TestResult] = Field(default_factory=list)
    tests_passed: int | None = None
    tests_total: int | None = None
    hidden_tests_passed: int | None = None
    hidden_tests_total: int | None = None
    step_count: int = 0
    steps_remaining: int = 0
    final_score: float | None = None
    resolved: bool | None = None
    last_action_error: str | None = None
    task_name: str = ""
    difficulty: str = ""
    task_description: str = ""
    episode_id: str = ""
    reward_breakdown: dict[str, float] = Field(default_factory=dict)
    cumulative_reward: float = 0.0
    end_reason: Literal["submitted", "step_budget"] | None = None
    trace: str | None = None
    infra_error: bool = False

    def render_code(self) -> str:
        """The program as numbered lines, ``"  7 | text"``."""
        return "\n".join(f"{n:>3} | {text}" for n, text in sorted(self.code_dict.items()))


class EpisodeState(BaseModel):
    """The environment's bookkeeping for the current episode (the ``state`` property)."""

    episode_id: str | None = None
    step_count: int = 0
    task_name: str | None = None
    difficulty: str | None = None
    seed: int | None = None
    variant: int | None = None
    max_steps: int = 0
    done: bool = False
    cumulative_reward: float = 0.0
    final_score: float | None = None
    resolved: bool | None = None
    isolation: str = ""
