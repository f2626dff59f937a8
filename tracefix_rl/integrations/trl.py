"""TRL integration: train on TraceFix-RL with ``GRPOTrainer(environment_factory=...)``.

Usage::

    from trl import GRPOConfig, GRPOTrainer
    from tracefix_rl.integrations.trl import make_dataset, make_env_factory

    trainer = GRPOTrainer(
        model="Qwen/Qwen3-0.6B",
        train_dataset=make_dataset(tiers=["easy", "medium"], seeds=range(4)),
        environment_factory=make_env_factory(db="runs/grpo/trajectories.sqlite3"),
        args=GRPOConfig(...),
    )

What TRL does with it (trl 1.16): it calls the factory with no arguments, keeps the instances
for the whole run, calls ``reset(**row)`` with each dataset row and appends the string it returns
to the row's last user message, exposes every public method except ``reset`` and ``get_reward`` as
a tool (schema from the type hints and the ``Args:`` docstring), feeds a tool's return value (or
``{"error": str(exception)}``) back to the model, and adds ``get_reward()`` as a reward column of
weight 1.

This module imports neither trl nor torch; ``datasets`` is imported by :func:`make_dataset` only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import EpisodeError
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.integrations._selection import episode_rows
from tracefix_rl.integrations._session import EpisodeSession, open_session
from tracefix_rl.integrations.tools import (
    DEFAULT_MAX_OUTPUT_CHARS,
    TOOL_SYSTEM_PROMPT,
    TOOL_USER_PROMPT,
    action_for_tool,
    intro_text,
    tool_output,
)

__all__ = [
    "RESET_COLUMNS",
    "TraceFixToolEnv",
    "TraceFixTRLConfig",
    "final_score_reward",
    "make_dataset",
    "make_env_factory",
    "resolved_reward",
]

RESET_COLUMNS = ("task_name", "seed", "variant", "difficulty", "task_pack")
"""The dataset columns ``reset`` reads; every other column (``prompt`` included) is ignored."""


@dataclass(frozen=True)
class TraceFixTRLConfig:
    """Settings shared by every :class:`TraceFixToolEnv` a factory makes (picklable)."""

    base_url: str | None = None
    """A TraceFix-RL server (``http://host:port``); None runs episodes in this process."""
    env_config: EnvConfig | None = None
    """In-process only: the environment's settings (step budget, rewards, sandbox limits)."""
    record: bool = True
    """In-process only: record every episode (into ``db``, or ``$TRACEFIX_DB`` if ``db`` is None)."""
    db: str | None = None
    """In-process only: the trajectory store of this run, e.g. ``<output_dir>/trajectories.sqlite3``."""
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    """Longest tool output (and task intro) returned to the model; the rest is cut with a marker."""
    reward: Literal["final_score", "resolved"] = "final_score"
    """What ``get_reward`` returns: the final score, or 1.0/0.0 for resolved (every visible and
    hidden test passes)."""
    on_unsubmitted: Literal["zero", "submit"] = "zero"
    """Reward of an episode the model never submitted: ``zero`` gives 0.0 (below any submitted
    score, which is at least the environment's minimum); ``submit`` submits on the model's behalf,
    so the environment grades the program as it stands."""
    message_timeout_s: float = 120.0
    """Remote only: how long to wait for one server reply."""
    pool: Any = None
    """A pool of environments to play every episode on (a
    :class:`~tracefix_rl.integrations.ray.TraceFixRayPool` or a
    :class:`~tracefix_rl.integrations.sharded.ShardedClient`; it must pickle for the factory to); its hosts
    record the episodes. Excludes ``base_url``, ``env_config`` and ``db``."""

    def __post_init__(self) -> None:
        if self.reward not in ("final_score", "resolved"):
            raise ValueError(f"reward must be 'final_score' or 'resolved', got {self.reward!r}")
        if self.on_unsubmitted not in ("zero", "submit"):
            raise ValueError(f"on_unsubmitted must be 'zero' or 'submit', got {self.on_unsubmitted!r}")
        if self.base_url is not None and (self.env_config is not None or self.db is not None):
            raise ValueError("env_config and db configure an in-process environment; with base_url the "
                             "server's own settings and trajectory store apply")
        if self.pool is not None and (self.base_url is not None or self.env_config is not None
                                      or self.db is not None):
            raise ValueError("pool runs the episodes on its hosts, with the pool's settings and stores: "
                             "base_url, env_config and db do not apply")


class TraceFixToolEnv:
    """One TraceFix-RL episode at a time, driven through named tools (the class TRL instantiates).

    Contract:

    * ``reset(**row)`` starts the episode the row names (columns :data:`RESET_COLUMNS`; the same
      row always gives the same episode, so a GRPO group shares one) and returns the task intro
      (description, visible test names, numbered program), starting with a blank line.
    * Every public method other than ``reset`` and ``get_reward`` is a tool. A tool returns text:
      the environment's output for the action, with a refused action's reason (the episode goes
      on); arguments of the wrong shape come back as ``Invalid arguments ...`` text and cost no
      step. Outputs are cut to ``max_output_chars``.
    * A tool called before ``reset`` or after the episode ended raises
      :class:`~tracefix_rl.core.errors.EpisodeError` (TRL shows the model the message).
    * ``get_reward()`` is the final score (or 1.0/0.0 with ``reward="resolved"``) once the episode
      ended; for an episode never submitted, see ``on_unsubmitted``.
    * Accessors (``observation``, ``done``, ``final_score``, ``resolved``, ``episode_id``) are
      properties, so TRL does not offer them as tools.

    In remote mode (``base_url``) and on a pool (``pool``) each ``reset`` opens a new session and
    the session is closed when the episode ends (or at the next ``reset``).
    """

    def __init__(self, config: TraceFixTRLConfig | None = None) -> None:
        self._config = config or TraceFixTRLConfig()
        self._session: EpisodeSession | None = None
        self._obs: CodeObservation | None = None

    # -- not tools ---------------------------------------------------------------------------

    def reset(self, **row: Any) -> str:
        """Start the episode the dataset row names; returns the task intro to append to the prompt."""
        if self._session is None:
            c = self._config
            self._session = open_session(base_url=c.base_url, env_config=c.env_config, record=c.record,
                                         db=c.db, message_timeout_s=c.message_timeout_s, pool=c.pool)
        kwargs = {k: row[k] for k in RESET_COLUMNS if row.get(k) is not None}
        self._obs = self._session.reset(**kwargs)
        return intro_text(self._obs, self._config.max_output_chars)

    def get_reward(self) -> float:
        """The episode's reward (see the class contract)."""
        return self._score(self._config.reward)

    @property
    def observation(self) -> CodeObservation | None:
        """The latest observation (None before the first ``reset``)."""
        return self._obs

    @property
    def done(self) -> bool:
        """Whether the current episode has ended."""
        return bool(self._obs is not None and self._obs.done)

    @property
    def final_score(self) -> float | None:
        """The environment's final score once the episode ended, else None."""
        return self._obs.final_score if self._obs is not None else None

    @property
    def resolved(self) -> bool | None:
        """Whether every visible and hidden test passed, once the episode ended; else None."""
        return self._obs.resolved if self._obs is not None else None

    @property
    def episode_id(self) -> str | None:
        """The current episode's id (as recorded in the trajectory store)."""
        return self._obs.episode_id if self._obs is not None else None

    # -- tools -------------------------------------------------------------------------------

    def view_code(self) -> str:
        """Show the current program with line numbers."""
        return self._act("view_code", {})

    def run_tests(self) -> str:
        """Run the visible tests on the current program and report each failure."""
        return self._act("run_tests", {})

    def trace(self, test_name: str | None = None) -> str:
        """Show the line-by-line execution of a visible test, with the values of variables.

        Args:
            test_name: The test to trace (default: the first failing one).
        """
        return self._act("trace", {"test_name": test_name} if test_name is not None else {})

    def replace_lines(self, start_line: int, end_line: int, new_code: str) -> str:
        """Replace lines start_line..end_line (1-based, inclusive) of the program with new_code.

        Args:
            start_line: First line to replace.
            end_line: Last line to replace (at most the last line + 1; last line + 1 appends).
            new_code: The replacement lines. If the first line has no indentation, the block takes start_line's indentation; otherwise it is used exactly. An empty string deletes the lines.
        """
        return self._act("replace_lines", {"start_line": start_line, "end_line": end_line, "new_code": new_code})

    def undo_edit(self) -> str:
        """Revert the last edit."""
        return self._act("undo_edit", {})

    def reset_to_original(self) -> str:
        """Restore the original buggy program and clear the edit history."""
        return self._act("reset_to_original", {})

    def submit(self) -> str:
        """Grade the program on the visible and hidden tests and end the episode."""
        return self._act("submit", {})

    # -- helpers -----------------------------------------------------------------------------

    def _act(self, tool: str, arguments: dict[str, Any]) -> str:
        if self._session is None or self._obs is None:
            raise EpisodeError("no episode: reset() must be called before any tool")
        if self._obs.done:
            raise EpisodeError(f"The episode is over ({self._obs.end_reason}, final score "
                               f"{self._obs.final_score}). Stop calling tools.")
        try:
            action = action_for_tool(tool, arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or tool}: {e['msg']}"
                                 for e in exc.errors()[:3])
            return f"Invalid arguments for {tool}: {problems}. Nothing was changed."
        self._obs = self._session.step(action)
        return tool_output(self._obs, self._config.max_output_chars)

    def _score(self, kind: str) -> float:
        obs = self._obs
        if obs is None:
            return 0.0
        if not obs.done and self._config.on_unsubmitted == "submit" and self._session is not None:
            obs = self._obs = self._session.step(CodeAction(thought="Submitted for the model at reward time.",
                                                            action_type="SUBMIT"))
        if not obs.done:
            return 0.0
        if kind == "resolved":
            return 1.0 if obs.resolved else 0.0
        return float(obs.final_score or 0.0)


def make_env_factory(**config: Any) -> functools.partial[TraceFixToolEnv]:
    """A picklable no-argument factory of :class:`TraceFixToolEnv` (``environment_factory=``).

    Keyword arguments are the fields of :class:`TraceFixTRLConfig` (``base_url=`` for a server,
    ``pool=`` for a pool of hosts, ``db=`` for this run's trajectory store, ``max_output_chars=``, ``reward=``,
    ``on_unsubmitted=``, ...). Being a ``functools.partial`` of a module-level class, it pickles,
    as ``AsyncGRPOTrainer``'s rollout process needs.

    Raises:
        TypeError: an unknown setting. ValueError: an invalid value.
    """
    return functools.partial(TraceFixToolEnv, TraceFixTRLConfig(**config))


def make_dataset(*, tasks: Sequence[str] | None = None, tiers: Sequence[str] | None = None,
                 task_pack: str | None = None, variants: Iterable[int] = (0,), seeds: Iterable[int] = (0,),
                 system_prompt: str | None = TOOL_SYSTEM_PROMPT, user_prompt: str = TOOL_USER_PROMPT) -> Any:
    """A ``datasets.Dataset`` with one row per (task, variant, seed).

    Columns: ``prompt`` (``[system, user]`` messages; no system message if ``system_prompt`` is
    None), ``task_name``, ``seed``, ``variant``, ``difficulty``, ``task_pack``. ``reset`` reads the
    last five, so every completion of a GRPO group (the same row repeated) plays the same episode.

    Args:
        tasks: task names (or aliases); default: every task of ``tiers`` in the source.
        tiers: difficulty tiers to draw from (``easy``, ``medium``, ``hard``); default: all.
        task_pack: path of a task pack to draw from instead of the built-in bank.
        variants: variant numbers (0 = the task as written; k >= 1 its k-th generated variant).
        seeds: episode seeds (they also seed ``random`` inside the program's sandbox).

    Raises:
        UnknownTaskError: a name in ``tasks`` is not in the source. TaskError: a bad tier, or
            no task selected.
    """
    import datasets

    prompt = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": user_prompt}]
    rows = episode_rows(tasks=tasks, tiers=tiers, task_pack=task_pack, variants=variants, seeds=seeds)
    return datasets.Dataset.from_list([{"prompt": prompt, **row} for row in rows])


def _rewards(environments: Sequence[Any] | None, kind: str) -> list[float | None]:
    if environments is None:
        raise ValueError("this reward function reads the environments: pass environment_factory to GRPOTrainer")
    return [e._score(kind) if isinstance(e, TraceFixToolEnv) else None for e in environments]


def final_score_reward(environments: Sequence[Any] | None = None, **_: Any) -> list[float | None]:
    """Reward function (``reward_funcs=``): each TraceFix episode's final score.

    Episodes never submitted follow the environment's ``on_unsubmitted`` setting; rollouts of
    other environments (a dict ``environment_factory``) get None, which TRL ignores.
    """
    return _rewards(environments, "final_score")


def resolved_reward(environments: Sequence[Any] | None = None, **_: Any) -> list[float | None]:
    """Reward function (``reward_funcs=``): 1.0 if every visible and hidden test passed
    (the observation's ``resolved``), else 0.0; None for other environments' rollouts."""
    return _rewards(environments, "resolved")
