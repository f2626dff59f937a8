"""TraceFixRayPool on a real local Ray cluster (2 CPUs, loopback, no dashboard), started once for this module.

The cluster runs with token authentication and a fresh token in the environment, and its own
temporary directory, so nothing depends on (or is left in) ``~/.ray`` or ``/tmp/ray``. Hosts
reserve a quarter CPU each so several pools fit the 2 CPUs; each has a 2-worker sandbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray._private.authentication_test_utils import reset_auth_token_state  # noqa: E402 - Ray's own test helper
from typer.testing import CliRunner  # noqa: E402

from tracefix_rl.agents.scripted import OraclePolicy, fix_actions, oracle_actions  # noqa: E402
from tracefix_rl.cli.main import app  # noqa: E402
from tracefix_rl.core.config import EnvConfig  # noqa: E402
from tracefix_rl.core.errors import (  # noqa: E402
    PoolError,
    ResetArgumentError,
    ResetNeededError,
    SessionClosedError,
    SessionLostError,
    UnknownArgumentError,
    UnknownTaskError,
)
from tracefix_rl.core.models import CodeAction  # noqa: E402
from tracefix_rl.core.trajectory import observation_hash  # noqa: E402
from tracefix_rl.data.tasks import get_task, list_tasks  # noqa: E402
from tracefix_rl.data.trajectories import TrajectoryStore  # noqa: E402
from tracefix_rl.env import TraceFixEnvironment  # noqa: E402
from tracefix_rl.env.replay import replay  # noqa: E402
from tracefix_rl.integrations.ray import TraceFixRayPool  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HOST = {"cpus_per_host": 0.25, "sandbox_workers": 2}
SAVED_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "HOME", "TRACEFIX_DB")
NODE_DB: dict[str, Path] = {}
"""The directory of the cluster node's default trajectory store (its workers' ``$TRACEFIX_DB``)."""


@pytest.fixture(scope="module")
def cluster():
    """A fresh 2-CPU Ray cluster on 127.0.0.1 with its own token, temp dir, HOME and default store
    directory (so hosts without a ``db_dir`` write there, not into the working directory)."""
    if ray.is_initialized():
        ray.shutdown()
    saved = {k: os.environ.get(k) for k in SAVED_VARS}
    scratch = Path(tempfile.mkdtemp(prefix="tfray-"))  # short: Ray's socket paths must stay < 108 bytes
    (scratch / "home").mkdir()
    NODE_DB["dir"] = scratch / "db"
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                       "HOME": str(scratch / "home"), "TRACEFIX_DB": str(NODE_DB["dir"] / "trajectories.sqlite3")})
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    reset_auth_token_state()  # Ray caches the token it saw first: make it read this one
    try:
        ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
                 _temp_dir=str(scratch / "r"), namespace="tracefix-tests")
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_auth_token_state()
        assert not (scratch / "home" / ".ray" / "auth_token").exists(), "the token came from the environment"
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def pool(cluster, tmp_path_factory):
    with TraceFixRayPool(num_hosts=2, db_dir=str(tmp_path_factory.mktemp("hosts")), **HOST) as p:
        yield p


def _messy_actions(task):
    """An invalid edit, an undo, a CWM trace, then the oracle's episode."""
    yield CodeAction(action_type="REPLACE_LINES", start_line=999, end_line=999, new_code_block="x = 1")
    yield CodeAction(action_type="UNDO_EDIT")
    yield CodeAction(action_type="TRACE", trace_format="cwm")
    yield from oracle_actions(task)


def test_same_seeds_give_the_same_observations_and_scores_as_in_process(pool):
    cases = [("binary_search_off_by_one", 0, None), ("valid_parentheses_wrong_mapping", 7, None),
             ("factorial_off_by_one", 3, 1)]
    for name, seed, variant in cases:
        reset = {"task_name": name, "seed": seed, **({"variant": variant} if variant else {})}
        local = TraceFixEnvironment(EnvConfig())
        first = local.reset(**reset)
        task = local.task
        expected = [observation_hash(first)] + [observation_hash(local.step(a)) for a in _messy_actions(task)]
        sid = pool.open()
        obs = pool.reset(sid, **reset)
        got = [observation_hash(obs)] + [observation_hash(obs := pool.step(sid, a)) for a in _messy_actions(task)]
        assert got == expected, name
        assert obs.done and obs.final_score == local.state.final_score and obs.resolved
        assert pool.describe(sid)["seed"] == seed and pool.describe(sid)["task_hash"] == task.content_hash
        pool.close(sid)


def test_errors_come_back_as_the_environment_raises_them_and_the_episode_goes_on(pool):
    sid = pool.open()
    with pytest.raises(ResetNeededError):
        pool.step(sid, CodeAction(action_type="VIEW_CODE"))
    pool.reset(sid, task_name="binary_search_off_by_one", seed=1)
    pool.step(sid, CodeAction(action_type="RUN_TESTS"))
    with pytest.raises(UnknownTaskError, match="nope"):
        pool.reset(sid, task_name="nope")
    with pytest.raises(UnknownArgumentError) as unknown:
        pool.reset(sid, tsak_name="binary_search_off_by_one")
    assert unknown.value.field == "tsak_name" and isinstance(unknown.value, TypeError)
    with pytest.raises(ResetArgumentError) as bad_seed:
        pool.reset(sid, task_name="binary_search_off_by_one", seed=-1)
    assert bad_seed.value.field == "seed"
    assert pool.step(sid, CodeAction(action_type="VIEW_CODE")).step_count == 2  # the episode went on
    pool.close(sid)
    pool.close(sid)  # idempotent
    with pytest.raises(SessionClosedError, match="closed"):
        pool.step(sid, CodeAction(action_type="VIEW_CODE"))
    with pytest.raises(SessionClosedError, match="not a pool session id"):
        pool.step("../etc/passwd", CodeAction(action_type="VIEW_CODE"))
    with pytest.raises(PoolError, match="has 2 host"):
        pool.step("7-abc-1", CodeAction(action_type="VIEW_CODE"))


def test_async_variants_give_what_the_sync_calls_give(pool):
    async def play(seed):
        sid = pool.open()
        obs = await pool.areset(sid, task_name="reverse_string_wrong_step", seed=seed)
        hashes = [observation_hash(obs)]
        for action in oracle_actions(get_task("reverse_string_wrong_step")):
            obs = await pool.astep(sid, action)
            hashes.append(observation_hash(obs))
        pool.close(sid)
        return hashes, obs.final_score

    async def main():
        return await asyncio.gather(*(play(s) for s in (0, 1, 0)))

    results = asyncio.run(main())
    assert results[0] == results[2] and results[0][1] is not None
    sid = pool.open()
    sync = [observation_hash(pool.reset(sid, task_name="reverse_string_wrong_step", seed=1))]
    sync += [observation_hash(pool.step(sid, a)) for a in oracle_actions(get_task("reverse_string_wrong_step"))]
    assert sync == results[1][0]


def test_a_hundred_episodes_over_two_hosts_are_all_recorded_and_merge_into_a_store_that_replays(
        cluster, tmp_path):
    hosts_dir = tmp_path / "hosts"
    names = [t.name for t in list_tasks()][:25]
    with TraceFixRayPool(num_hosts=2, db_dir=str(hosts_dir), **HOST) as pool:
        outcomes = pool.run_episodes(OraclePolicy, names, seeds=range(4), concurrency=8)
        collected = pool.collect(tmp_path / "collected.sqlite3")
    assert len(outcomes) == 100 and all(o.ok and o.resolved for o in outcomes), [o.error for o in outcomes]
    assert {o.host for o in outcomes} == {"host 0", "host 1"}
    files = sorted(hosts_dir.glob("host-*.sqlite3"))
    assert [f.name for f in files] == ["host-0.sqlite3", "host-1.sqlite3"]

    merged = tmp_path / "merged.sqlite3"
    result = CliRunner().invoke(app, ["trajectories", "merge", str(merged), *map(str, files)])
    assert result.exit_code == 0, result.output
    assert "merged 100 episode(s)" in result.output
    store = TrajectoryStore(merged)
    assert store.count_episodes() == 100 and collected == 100
    for o in outcomes:
        rec = store.load_episode(o.episode_id)
        assert (rec["total_steps"], rec["final_score"], rec["done"]) == (o.steps, o.final_score, True)
        assert [s["step"] for s in rec["steps"]] == list(range(1, o.steps + 1))
        report = replay(o.episode_id, db=merged)
        assert report.verified, report.diff
    again = CliRunner().invoke(app, ["trajectories", "merge", str(merged), *map(str, files)])
    assert again.exit_code == 0 and "merged 0 episode(s)" in again.output and "100 already there" in again.output


def test_a_killed_host_fails_its_sessions_clearly_and_the_run_goes_on_on_the_other(cluster, tmp_path):
    with TraceFixRayPool(num_hosts=2, db_dir=str(tmp_path), max_restarts=2, **HOST) as pool:
        victim = next(h for h in pool.hosts() if h["index"] == 0)
        steps, lock, killed = [0], threading.Lock(), threading.Event()

        class Killer(OraclePolicy):
            def act(self, observation):
                with lock:
                    steps[0] += 1
                    if steps[0] == 20 and not killed.is_set():
                        os.kill(victim["pid"], signal.SIGKILL)
                        killed.set()
                return super().act(observation)

        names = [t.name for t in list_tasks()][:12]
        outcomes = pool.run_episodes(Killer, names, seeds=(0, 1), concurrency=6)
        assert killed.is_set()
        lost = [o for o in outcomes if not o.ok]
        assert lost, "episodes in flight on host 0 must fail"
        for o in lost:
            assert "SessionLostError" in o.error and "host 0 died" in o.error, o.error
        assert all(o.resolved for o in outcomes if o.ok) and len(outcomes) - len(lost) >= 12
        assert not any("host 1" in (o.error or "") for o in outcomes)

        deadline = time.monotonic() + 60
        while not (replaced := pool.hosts()[0])["alive"] and time.monotonic() < deadline:
            time.sleep(0.5)  # Ray is restarting it
        assert replaced["alive"] and replaced["incarnation"] != victim["incarnation"]
        assert replaced["pid"] != victim["pid"]
        sid = next(s for s in (pool.open() for _ in range(6)) if s.startswith("0-"))  # host 0 serves again
        obs = pool.reset(sid, task_name="binary_search_off_by_one", seed=0)
        assert pool.step(sid, CodeAction(action_type="RUN_TESTS")).tests_passed == 2 and obs.step_count == 0
        pool.collect(tmp_path / "all.sqlite3")
    store = TrajectoryStore(tmp_path / "all.sqlite3")  # the replacement reopened host 0's file
    for o in lost:
        if o.episode_id:
            rec = store.load_episode(o.episode_id)
            assert not rec["done"] and rec["final_score"] is None


def test_trl_factory_pickles_and_its_tools_give_what_in_process_tools_give(pool):
    from tracefix_rl.integrations.trl import make_env_factory

    factory = pickle.loads(pickle.dumps(pool.trl_factory()))
    remote, local = factory(), make_env_factory(record=False)()
    task = get_task("binary_search_off_by_one")
    fix = fix_actions(task.buggy, task.reference)[0]
    for env in (remote, local):
        env.transcript = [env.reset(task_name=task.name, seed=2), env.run_tests(), env.trace(),
                          env.replace_lines(fix.start_line, fix.end_line, fix.new_code_block),
                          env.replace_lines(500, 400, "x"), env.submit()]
    assert remote.transcript == local.transcript
    assert remote.get_reward() == local.get_reward() > 0.9 and remote.resolved
    with pytest.raises(SessionLostError):  # a session of a dead incarnation is refused at once
        pool._dead.add("deadbeef00")
        pool.step("0-deadbeef00-1", CodeAction(action_type="VIEW_CODE"))


def test_tracefix_eval_runs_its_episodes_on_the_cluster_at_an_address(cluster, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "tracefix_rl.cli.main", "eval", "--agent", "oracle", "--tasks",
         "task1_easy,task2_medium,task3_hard", "-w", "3", "--ray", cluster, "--ray-hosts", "2",
         "--ray-cpus", "0.25", "-o", str(out), "--no-live"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "TRACEFIX_DB": str(tmp_path / "x")})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Ray pool of 2 host(s)" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["resolved_episodes"] == 3
    assert report["identity"]["environment"].startswith("ray pool:")
    assert report["identity"]["trajectories_copied"] == 3
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(r["isolation"] for r in rows)
    for row in rows:
        assert replay(row["episode_id"], db=out / "trajectories.sqlite3").verified
    # the hosts kept their own stores on the node, next to its default store
    assert len(list((NODE_DB["dir"] / "pools").glob("pool-*/host-*.sqlite3"))) == 2


def test_a_pool_that_cannot_be_placed_says_which_resources_are_missing(cluster):
    with pytest.raises(PoolError, match=r"did not start within 3 s: each needs \{'CPU': 0.25, 'gpu_node_only': 1\}"):
        TraceFixRayPool(num_hosts=1, resources={"gpu_node_only": 1}, start_timeout_s=3, **HOST)
