"""Agents that need no model: an oracle that applies the reference fix, for demos and tests."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.data.tasks import Task, resolve_task

__all__ = ["OraclePolicy", "fix_actions", "oracle_actions"]


def fix_actions(buggy: str, fixed: str) -> list[CodeAction]:
    """REPLACE_LINES actions that turn ``buggy`` into ``fixed``, applied bottom-up.

    Every block starts with its own (explicit) indentation, so the environment uses it as is.
    """
    a, b = buggy.splitlines(), fixed.splitlines()
    actions = []
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):
        if tag == "equal":
            continue
        new = b[j1:j2]
        if tag == "insert":
            if i1 < len(a):  # insert before line i1+1: replace it by the new lines plus itself
                new, start, end = new + [a[i1]], i1 + 1, i1 + 1
            else:
                start = end = len(a) + 1
        else:
            start, end = i1 + 1, i2
        block = "\n".join(new)
        if new and not new[0].strip():
            block = "\n".join(new)  # a blank first line keeps the block verbatim
        actions.append(CodeAction(
            thought=f"Rewrite lines {start}-{end} to match the intended behaviour.",
            action_type="REPLACE_LINES", start_line=start, end_line=end, new_code_block=block,
        ))
    return actions


def oracle_actions(task: Task, *, trace: bool = True) -> Iterator[CodeAction]:
    """A short, successful episode: look, test, (trace), fix, re-test, submit.

    The oracle reads the task's reference solution, so it is a demonstration and a test
    fixture, not a baseline.
    """
    yield CodeAction(thought="Read the program first.", action_type="VIEW_CODE")
    yield CodeAction(thought="See which visible tests fail.", action_type="RUN_TESTS")
    if trace:
        yield CodeAction(thought="Watch the first failing test execute.", action_type="TRACE")
    yield from fix_actions(task.buggy, task.reference)
    yield CodeAction(thought="Check the fix.", action_type="RUN_TESTS")
    yield CodeAction(thought="All visible tests pass; submit.", action_type="SUBMIT")


class OraclePolicy:
    """The oracle as a policy: plays :func:`oracle_actions` of the task an episode was reset
    with, then SUBMIT for as long as it is asked.

    Built from the episode's reset arguments (``task_name``, and ``task_pack`` and ``variant``
    if any), so the class itself is a per-episode policy factory, e.g.
    ``pool.run_episodes(OraclePolicy, tasks)``. It reads the reference solution: an upper bound
    and a harness check, never a baseline.
    """

    def __init__(self, reset: Mapping[str, Any]) -> None:
        task = resolve_task(reset["task_name"], reset.get("task_pack"), reset.get("variant") or 0)
        self._actions = oracle_actions(task)

    def act(self, observation: CodeObservation) -> CodeAction:
        """The next oracle action (the observation is not needed)."""
        return next(self._actions, CodeAction(action_type="SUBMIT"))
