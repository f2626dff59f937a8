"""ShardedClient: sessions spread over several real ``tracefix serve`` processes (no Ray)."""

from __future__ import annotations

import contextlib
import json
import pickle

import pytest

pytest.importorskip("openenv")

from _live_server import live_server  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tracefix_rl.agents.scripted import OraclePolicy, oracle_actions  # noqa: E402
from tracefix_rl.cli.main import app  # noqa: E402
from tracefix_rl.core.config import EnvConfig  # noqa: E402
from tracefix_rl.core.errors import (  # noqa: E402
    EpisodeIdInUseError,
    PoolError,
    ResetArgumentError,
    SessionClosedError,
    SessionLostError,
)
from tracefix_rl.core.models import CodeAction  # noqa: E402
from tracefix_rl.core.trajectory import observation_hash  # noqa: E402
from tracefix_rl.data.tasks import get_task  # noqa: E402
from tracefix_rl.env import TraceFixEnvironment  # noqa: E402
from tracefix_rl.env.replay import replay  # noqa: E402
from tracefix_rl.integrations.sharded import ShardedClient  # noqa: E402


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(live_server(tmp_path_factory.mktemp(f"shard{i}"), "--trajectory-routes"))
               for i in range(2)]


def test_sessions_spread_over_the_servers_and_observations_match_in_process(servers):
    client = ShardedClient([s.url for s in servers])
    sids = [client.open() for _ in range(4)]
    assert sorted(s.split("-")[0] for s in sids) == ["0", "0", "1", "1"]
    task = get_task("binary_search_off_by_one")
    local = TraceFixEnvironment(EnvConfig())
    expected = [observation_hash(local.reset(task_name=task.name, seed=4))]
    expected += [observation_hash(local.step(a)) for a in oracle_actions(task)]
    for sid in sids[:2]:  # one on each server
        got = [observation_hash(client.reset(sid, task_name=task.name, seed=4))]
        got += [observation_hash(client.step(sid, a)) for a in oracle_actions(task)]
        assert got == expected
        facts = client.describe(sid)
        assert facts["seed"] == 4 and facts["host"] in {s.url for s in servers}
        record = client.episode_record(sid, facts["episode_id"])
        assert record["final_score"] == local.state.final_score
    client.shutdown()
    with pytest.raises(SessionClosedError):
        client.step(sids[0], CodeAction(action_type="VIEW_CODE"))


def test_refused_resets_name_the_field_and_the_session_goes_on(servers):
    with ShardedClient([s.url for s in servers]) as client:
        sid = client.open()
        client.reset(sid, task_name="factorial_off_by_one", seed=0, episode_id="sharded-dup-1")
        client.step(sid, CodeAction(action_type="RUN_TESTS"))
        with pytest.raises(ResetArgumentError) as bad:
            client.reset(sid, task_name="nope")
        assert bad.value.field == "task_name" and "unknown task" in str(bad.value)
        with pytest.raises(ResetArgumentError) as seed:
            client.reset(sid, task_name="factorial_off_by_one", seed=-3)
        assert seed.value.field == "seed"
        with pytest.raises(EpisodeIdInUseError):
            client.reset(sid, task_name="factorial_off_by_one", episode_id="sharded-dup-1")
        assert client.step(sid, CodeAction(action_type="VIEW_CODE")).step_count == 2


def test_a_dead_server_fails_its_sessions_by_name_and_new_ones_go_to_the_live_one(servers, tmp_path):
    with live_server(tmp_path) as doomed:
        client = ShardedClient([doomed.url, servers[0].url], retry_after_s=60)
        on_doomed = client.open()
        assert on_doomed.startswith("0-")
        client.reset(on_doomed, task_name="binary_search_off_by_one", seed=0)
        doomed.proc.kill()
        doomed.proc.wait()
        with pytest.raises(SessionLostError) as lost:
            client.step(on_doomed, CodeAction(action_type="VIEW_CODE"))
        assert doomed.url in str(lost.value) and lost.value.host == doomed.url
        outcomes = client.run_episodes(OraclePolicy, ["task1_easy", "task2_medium"], seeds=(0, 1))
        assert all(o.ok and o.resolved and o.host == servers[0].url for o in outcomes)
    with pytest.raises(PoolError, match="no server could open a session"):
        ShardedClient(["http://127.0.0.1:9"]).open()


def test_trl_factory_over_servers_pickles_and_plays(servers):
    from tracefix_rl.integrations.trl import make_env_factory

    env = pickle.loads(pickle.dumps(ShardedClient([s.url for s in servers]).trl_factory()))()
    local = make_env_factory(record=False)()
    for e in (env, local):
        e.transcript = [e.reset(task_name="task1_easy", seed=1), e.run_tests(), e.view_code(), e.submit()]
    assert env.transcript == local.transcript and env.get_reward() == local.get_reward()


def test_tracefix_eval_spreads_episodes_over_several_env_urls(servers, tmp_path):
    out = tmp_path / "run"
    urls = ",".join(s.url for s in servers)
    result = CliRunner().invoke(app, ["eval", "--agent", "oracle", "--tasks", "task1_easy,task2_medium,task3_hard",
                                      "-k", "2", "-w", "4", "--env-url", urls, "-o", str(out), "--no-live"])
    assert result.exit_code == 0, result.output
    assert "2 servers" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["resolved_episodes"] == 6 and report["identity"]["trajectories_copied"] == 6
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["task_hash"] and row["isolation"]
        assert replay(row["episode_id"], db=out / "trajectories.sqlite3").verified
