"""``tracefix eval`` with a model behind a real OpenAI-compatible HTTP endpoint (the scripted model).

``scripted-tiered`` fixes every easy task, every other episode of a medium task (the 1st,
3rd, ... to start) and no hard task, so with 3 samples of 2 tasks per tier the report's
figures are known by hand: easy 6/6, medium 4/6, hard 0/6 episodes resolved, and per task
c = 3, 2, 0 correct rollouts of n = 3.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from tracefix_rl.core.errors import EvaluationError
from tracefix_rl.data.trajectories import TrajectoryStore
from tracefix_rl.evaluation import EvalOptions, EvalRunner, ExitStatus, ModelAgent, select_tasks

TASKS = {"easy": ["sum_even_wrong_condition", "reverse_string_wrong_step"],
         "medium": ["binary_search_off_by_one", "binary_search_wrong_mid"],
         "hard": ["merge_intervals_strict_overlap", "valid_parentheses_wrong_mapping"]}
CORRECT = {"easy": 3, "medium": 2, "hard": 0}  # resolved rollouts of 3, per task of each tier
SAMPLES = 3


def _agent(server, model: str, base_url: str | None = None, max_steps: int = 20) -> ModelAgent:
    return ModelAgent(model=model, base_url=base_url or server.base_url, api_key="test-key", max_steps=max_steps,
                      request_timeout=10.0, max_retries=0)


def _run(agent, out, names, *, samples=SAMPLES, workers=3, **options):
    tasks = select_tasks(names=names)
    runner = EvalRunner(agent, tasks, EvalOptions(output_dir=out, samples=samples, workers=workers, max_steps=20,
                                                  **options), selection={"tasks": names})
    return runner, runner.run()


def _hand_pass_at_k(n: int, c: int, k: int) -> float:
    return 1 - math.comb(n - c, k) / math.comb(n, k)


@pytest.fixture(scope="module")
def tiered(model_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiered")
    names = [n for tier in TASKS.values() for n in tier]
    runner, outcome = _run(_agent(model_server, "scripted-tiered:report"), out, names)
    return out, runner, outcome


def test_counts_rates_and_pass_at_k_match_hand_computed_values(tiered):
    out, _runner, outcome = tiered
    assert outcome.ok and not outcome.interrupted
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "tracefix-eval/1"
    total = 6 * SAMPLES
    resolved = sum(CORRECT[t] * len(names) for t, names in TASKS.items())
    assert (report["total_episodes"], report["completed_episodes"], report["resolved_episodes"],
            report["unresolved_episodes"]) == (total, total, resolved, total - resolved)
    assert report["infra_error_episodes"] == report["harness_error_episodes"] == report["incomplete_episodes"] == 0
    assert report["resolved_rate"] == pytest.approx(resolved / total, abs=1e-4)
    for tier, names in TASKS.items():
        stats = report["by_tier"][tier]
        assert stats["episodes"] == len(names) * SAMPLES
        assert stats["resolved"] == CORRECT[tier] * len(names)
        assert stats["resolved_rate"] == pytest.approx(CORRECT[tier] / SAMPLES, abs=1e-4)
    for k in range(1, SAMPLES + 1):
        expected = sum(_hand_pass_at_k(SAMPLES, CORRECT[t], k) * len(n) for t, n in TASKS.items()) / 6
        assert report["pass_at_k"][str(k)] == pytest.approx(expected, abs=1e-4)
        assert report["pass_at_k_instances"][str(k)] == 6
    assert report["pass_at_k"]["1"] == pytest.approx(5 / 9, abs=1e-4)
    assert report["pass_at_k"]["2"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["total_instances"] == 6 and report["resolved_instances"] == 4
    assert sorted(report["resolved_instance_ids"]) == sorted(TASKS["easy"] + TASKS["medium"])
    assert set(report["resolved_ids"]) | set(report["unresolved_ids"]) == set(report["completed_ids"])
    assert {f"{n}#{s}" for n in TASKS["hard"] for s in range(SAMPLES)} <= set(report["unresolved_ids"])
    assert report["by_exit_status"] == {"submitted": total}
    by_task = {t["instance"]: t for t in report["by_task"]}
    for tier, names in TASKS.items():
        for name in names:
            assert by_task[name]["resolved"] == CORRECT[tier] and by_task[name]["samples"] == SAMPLES
            assert by_task[name]["tier"] == tier
    assert report["config"]["agent"]["model"] == "scripted-tiered:report"
    assert "http" not in report["config"]["agent"]["endpoint"]  # host and path only
    assert report["identity"]["isolation"] and report["identity"]["package_version"]
    assert report["tokens"]["total"] > 0 and report["action_mix"]["SUBMIT"] == total
    page = (out / "report.html").read_text()
    assert "scripted-tiered:report" in page and not re.search(r"https?:", page)


def test_every_row_is_an_episode_recorded_in_the_run_database(tiered):
    out, _runner, _outcome = tiered
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 * SAMPLES and len({r["key"] for r in rows}) == len(rows)
    store = TrajectoryStore(out / "trajectories.sqlite3")
    for row in rows:
        episode = store.load_episode(row["episode_id"])
        assert episode["task_name"] == row["task"] and episode["final_score"] == row["final_score"]
        assert len(episode["steps"]) == row["steps"] and episode["seed"] == row["seed"]
        assert row["model_calls"] >= 1 and row["prompt_tokens"] > 0
        if row["resolved"]:
            assert row["hidden_passed"] == row["hidden_total"] and row["visible_passed"] == row["visible_total"]
    assert store.count_episodes() == len(rows)


def test_resume_runs_no_new_episode_and_refuses_other_settings(tiered, model_server):
    out, _runner, first = tiered
    names = [n for tier in TASKS.values() for n in tier]
    lines = (out / "results.jsonl").read_text()
    requests = len(model_server.requests)
    runner, outcome = _run(_agent(model_server, "scripted-tiered:report"), out, names, resume=True)
    assert runner.progress.done == 0 and runner.progress.skipped == 6 * SAMPLES
    assert len(model_server.requests) == requests  # not one model call
    assert (out / "results.jsonl").read_text() == lines
    assert outcome.report.resolved_episodes == first.report.resolved_episodes
    assert outcome.report.pass_at_k == first.report.pass_at_k
    with pytest.raises(EvaluationError, match="--resume"):
        _run(_agent(model_server, "scripted-fix"), out, names, resume=True)
    with pytest.raises(EvaluationError, match="already holds results"):
        _run(_agent(model_server, "scripted-tiered:report"), out, names)


def test_garbage_model_ends_in_parse_errors_not_a_crash(model_server, tmp_path):
    names = TASKS["easy"]
    _, outcome = _run(_agent(model_server, "scripted-garbage"), tmp_path, names, samples=2, workers=2)
    report = outcome.report
    assert outcome.ok
    assert report.by_exit_status == {"parse_errors": 4}
    assert report.completed_episodes == 4 and report.resolved_episodes == 0
    assert report.resolved_rate == 0.0 and report.pass_at_k == {"1": 0.0, "2": 0.0}
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert all(r["parse_errors"] >= 3 and r["actions"] == {"SUBMIT": 1} for r in rows)


@pytest.mark.parametrize(("model", "max_steps", "options", "status"), [
    ("scripted-loop", 20, {}, "loop"),                                  # VIEW_CODE again and again
    ("scripted-fix", 2, {}, "step_budget"),                             # RUN_TESTS, then the forced SUBMIT
    ("scripted-fix", 20, {"episode_timeout": 1e-6}, "time_limit"),      # submitted at the first step
])
def test_every_way_an_episode_ends_is_a_typed_counted_status(model_server, tmp_path, model, max_steps, options,
                                                              status):
    tasks = select_tasks(names=TASKS["medium"][:1])
    outcome = EvalRunner(_agent(model_server, model, max_steps=max_steps), tasks,
                         EvalOptions(output_dir=tmp_path, max_steps=max_steps, **options)).run()
    report = outcome.report
    assert outcome.ok and report.by_exit_status == {status: 1}
    assert report.completed_episodes == 1 and report.resolved_episodes == 0 and report.resolved_rate == 0.0


def test_unreachable_model_is_a_model_error_and_resume_reruns_it(model_server, tmp_path):
    from _live_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    names = TASKS["easy"][:1]
    _, outcome = _run(_agent(model_server, "scripted-fix", base_url=dead), tmp_path, names, samples=2, workers=1)
    report = outcome.report
    assert outcome.ok  # the harness did its job: the endpoint failed, not the harness
    assert report.by_exit_status == {"model_error": 2}
    assert report.completed_episodes == 0 and report.resolved_rate is None and report.pass_at_k == {"1": None,
                                                                                                    "2": None}
    assert sorted(report.model_error_ids) == [f"{names[0]}#0", f"{names[0]}#1"]
    assert all("model call failed" in v for v in report.failure_reasons.values())
    runner, outcome = _run(_agent(model_server, "scripted-fix"), tmp_path, names, samples=2, workers=1, resume=True)
    assert runner.progress.done == 2 and outcome.report.resolved_episodes == 2
    assert outcome.report.by_exit_status == {"submitted": 2} and outcome.report.model_error_ids == []


def test_unreachable_environment_is_retried_and_listed_as_infra_error(model_server, tmp_path):
    from _live_server import free_port

    names = TASKS["easy"][:1]
    runner, outcome = _run(_agent(model_server, "scripted-fix"), tmp_path, names, samples=2, workers=2, retries=1,
                           env_url=f"http://127.0.0.1:{free_port()}")
    report = outcome.report
    assert outcome.ok and report.by_exit_status == {"infra_error": 2}
    assert report.completed_episodes == 0 and report.infra_error_episodes == 2
    assert runner.progress.retries == 2
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["attempts"] for r in rows] == [2, 2] and all(r["exit_status"] == "infra_error" for r in rows)


def test_against_a_server_every_episode_lands_in_the_run_database(model_server, env_server, tmp_path):
    names = TASKS["easy"] + TASKS["medium"][:1]
    _, outcome = _run(_agent(model_server, "scripted-fix"), tmp_path, names, samples=2, workers=2,
                      env_url=env_server.url)
    report = outcome.report
    assert outcome.ok and report.resolved_episodes == 6 and report.identity["trajectories_copied"] == 6
    assert report.identity["environment"] == env_server.url
    store = TrajectoryStore(tmp_path / "trajectories.sqlite3")
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    for row in rows:
        assert store.load_episode(row["episode_id"])["final_score"] == row["final_score"]
        assert row["isolation"] and row["task_hash"]


def test_a_task_without_the_variant_is_a_task_error(tmp_path):
    from tracefix_rl.evaluation import make_policy_agent

    tasks = select_tasks(names=["reverse_string_returns_original"], variants=[0, 400])
    runner = EvalRunner(make_policy_agent("repair"), tasks, EvalOptions(output_dir=tmp_path))
    outcome = runner.run()
    assert outcome.ok
    assert outcome.report.task_error_ids == ["reverse_string_returns_original@v400#0"]
    reason = outcome.report.failure_reasons["reverse_string_returns_original@v400#0"]
    assert "'variant': must be from 0 to 16, got 400" in reason
    assert outcome.report.completed_ids == ["reverse_string_returns_original#0"]
    assert ExitStatus.TASK_ERROR.value in outcome.report.by_exit_status


def test_a_stopped_run_reports_what_finished_and_resume_completes_it(tmp_path):
    from tracefix_rl.evaluation import make_policy_agent

    tasks = select_tasks(names=TASKS["easy"] + TASKS["medium"])
    runner = EvalRunner(make_policy_agent("oracle"), tasks, EvalOptions(output_dir=tmp_path, workers=1),
                        on_episode=lambda row: runner.stop())
    outcome = runner.run()
    report = outcome.report
    assert report.run["completed"] is False and report.completed_episodes == 1
    assert report.incomplete_episodes == 3 and len(report.incomplete_ids) == 3
    # a run killed while writing leaves a torn last line: it is ignored and its episode re-run
    with (tmp_path / "results.jsonl").open("a") as f:
        f.write('{"key": "binary_search_wrong_mid#0", "task": "binary_sea')
    again = EvalRunner(make_policy_agent("oracle"), tasks, EvalOptions(output_dir=tmp_path, resume=True))
    outcome = again.run()
    assert again.progress.done == 3 and outcome.report.run["completed"] is True
    assert outcome.report.resolved_episodes == 4 and outcome.report.incomplete_episodes == 0
