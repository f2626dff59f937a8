"""SIGKILL a recording process mid-episode: every returned step is stored, the file is intact."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tracefix_rl.data.trajectories import TrajectoryStore
from tracefix_rl.env.replay import replay

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def _spawn(db: Path, seed: int, max_steps: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]), "TRACEFIX_RECORD": "0"}
    return subprocess.Popen([sys.executable, str(HERE / "_recording_child.py"), str(db), str(seed), str(max_steps)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("kill_after", [1, 37])
def test_sigkill_mid_episode_loses_no_returned_step(tmp_path, kill_after):
    db = tmp_path / "t.sqlite3"
    victim = _spawn(db, seed=5, max_steps=100_000)
    survivor = _spawn(db, seed=6, max_steps=60)  # a concurrent writer into the same file
    try:
        assert victim.stdout is not None
        victim_id = victim.stdout.readline().split()[1]
        returned = []
        while len(returned) < kill_after:
            returned.append(int(victim.stdout.readline()))
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        # Steps the child printed after the ones read above were returned too (the print comes
        # after step() returned); they are still in the pipe and must be stored as well.
        returned += [int(line) for line in victim.stdout.read().split()]
        out, _ = survivor.communicate(timeout=300)
    finally:
        for p in (victim, survivor):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert victim.returncode == -signal.SIGKILL
    assert returned == list(range(1, len(returned) + 1)) and len(returned) >= kill_after

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    store = TrajectoryStore(db)
    victim_ep = store.load_episode(victim_id)
    stored = [s["step"] for s in victim_ep["steps"]]
    assert stored[: len(returned)] == returned  # every returned step is there ...
    assert stored == list(range(1, len(stored) + 1)) and len(stored) <= len(returned) + 1  # ... at most one more
    assert victim_ep["end_time"] is None and victim_ep["final_score"] is None

    survivor_id = out.split()[1]
    assert out.strip().endswith("DONE")
    survivor_ep = store.load_episode(survivor_id)
    assert len(survivor_ep["steps"]) == 60 and survivor_ep["final_score"] is not None
    store.close()
    assert replay(victim_id, db=db).verified
    assert replay(survivor_id, db=db).verified
