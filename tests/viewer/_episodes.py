"""Real episodes recorded into a real SQLite store for the viewer's tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tracefix_rl.agents import oracle_actions
from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.models import CodeAction
from tracefix_rl.data.tasks import get_task
from tracefix_rl.data.trajectories import SQLiteRecorder
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment

TASK = "binary_search_off_by_one"
#: Attacker-controlled text: it must show up literally and never run.
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def oracle_episode(rec: SQLiteRecorder, *, task: str = TASK, seed: int = 0, thought: str | None = None) -> str:
    """The oracle's fix: RUN_TESTS (a failing test), TRACE, the edit, RUN_TESTS, SUBMIT. Returns the id."""
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=20)), rec)
    env.reset(task_name=task, seed=seed)
    for action in oracle_actions(get_task(task), trace=True):
        if thought is not None:
            action = action.model_copy(update={"thought": thought})
        obs = env.step(action)
        if obs.done:
            break
    return str(env.state.episode_id)


def failing_first_episode(rec: SQLiteRecorder, *, seed: int = 1) -> str:
    """RUN_TESTS on the buggy program (failures recorded), then SUBMIT unchanged (not resolved)."""
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    env.reset(task_name=TASK, seed=seed)
    env.step(CodeAction(action_type="RUN_TESTS", thought="see what fails"))
    env.step(CodeAction(action_type="SUBMIT"))
    return str(env.state.episode_id)


def hostile_episode(rec: SQLiteRecorder) -> str:
    """An agent writing markup into its thought, its code and its program's output."""
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=10)), rec)
    env.reset(task_name=TASK, seed=2)
    block = f"def binary_search(arr, target):\n    print({XSS!r})\n    return {XSS!r}"
    env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=1, new_code_block=block, thought=XSS))
    env.step(CodeAction(action_type="RUN_TESTS", thought=XSS))
    return str(env.state.episode_id)


def make_store(path: Path) -> dict[str, str]:
    """A store with one episode of each kind above; returns their ids by kind."""
    rec = SQLiteRecorder(path, agent="oracle")
    ids = {"oracle": oracle_episode(rec)}
    rec.agent = "scripted"
    ids["failing"] = failing_first_episode(rec)
    ids["hostile"] = hostile_episode(rec)
    rec.close()
    return ids


#: The step of the oracle fix whose recorded edit :func:`tamper_edit` changes (REPLACE_LINES).
TAMPERED_STEP = 4


def tamper_edit(db: Path, episode_id: str, step: int) -> None:
    """Change the code block recorded for ``step`` (an attacker or a bad disk)."""
    conn = sqlite3.connect(db)
    with conn:
        row = conn.execute("SELECT action FROM steps WHERE episode_id=? AND step=?", (episode_id, step)).fetchone()
        assert row and '"new_code_block"' in row[0]
        changed = row[0].replace("len(arr) - 1", "len(arr) - 2")
        assert changed != row[0]
        conn.execute("UPDATE steps SET action=? WHERE episode_id=? AND step=?", (changed, episode_id, step))
    conn.close()
