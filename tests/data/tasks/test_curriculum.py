"""Curriculum sampling by schedule and by recent success."""

from __future__ import annotations

import pytest

from tracefix_rl.core.errors import TaskError
from tracefix_rl.data.tasks._curriculum import Curriculum


def _run(cur: Curriculum, outcomes):
    tiers = []
    for ok in outcomes:
        tier = cur.next_tier()
        tiers.append(tier)
        cur.record(ok, tier)
    return tiers


def test_schedule_mode_follows_episode_thresholds():
    cur = Curriculum(mode="schedule", schedule=[(0, "easy"), (3, "medium"), (5, "hard")], review=0.0)
    assert _run(cur, [True] * 7) == ["easy"] * 3 + ["medium"] * 2 + ["hard"] * 2
    assert cur.episode == 7


def test_review_draws_only_easier_tiers_and_is_deterministic():
    a = Curriculum(mode="schedule", schedule=[(0, "hard")], review=0.3, seed=11)
    b = Curriculum(mode="schedule", schedule=[(0, "hard")], review=0.3, seed=11)
    ta, tb = _run(a, [0.0] * 200), _run(b, [0.0] * 200)
    assert ta == tb
    assert 30 < sum(t != "hard" for t in ta) < 90
    assert {"easy", "medium"} <= set(ta)
    c = Curriculum(mode="schedule", schedule=[(0, "hard")], review=0.3, seed=12)
    assert _run(c, [0.0] * 200) != ta


def test_success_mode_promotes_and_demotes_on_full_windows():
    cur = Curriculum(mode="success", window=4, promote_at=0.75, demote_at=0.25, review=0.0)
    assert _run(cur, [True, True, True]) == ["easy"] * 3 and cur.tier == "easy"
    cur.record(True)
    assert cur.tier == "medium" and cur.success_rate is None  # window cleared on promotion
    _run(cur, [True, False, True, True])
    assert cur.tier == "hard"
    _run(cur, [True] * 8)
    assert cur.tier == "hard"  # no tier above
    _run(cur, [False, False, False, False])
    assert cur.tier == "medium"
    _run(cur, [True, False, True, False])  # 0.5: stay
    assert cur.tier == "medium"


def test_review_episodes_do_not_count_toward_promotion():
    cur = Curriculum(mode="success", window=2, start="medium", review=0.0)
    cur.record(True, "easy")
    cur.record(True, "easy")
    assert cur.tier == "medium"
    cur.record(1.0)
    cur.record(1.0)
    assert cur.tier == "hard"


def test_next_task_and_reset_kwargs_and_resume(tmp_path):
    from tracefix_rl.env import TraceFixEnvironment

    cur = Curriculum(mode="success", seed=3, window=3)
    kw = cur.next_reset_kwargs()
    assert kw == cur.next_reset_kwargs() and set(kw) == {"difficulty", "seed"}
    task = cur.next_task()
    assert task.difficulty == kw["difficulty"]
    obs = TraceFixEnvironment().reset(**kw)
    assert obs.task_name == task.name
    _run(cur, [True, True])
    saved = cur.to_dict()
    clone = Curriculum.from_dict(saved)
    assert _run(clone, [True, False, True, True]) == _run(cur, [True, False, True, True])
    assert clone.to_dict() == cur.to_dict()


@pytest.mark.parametrize("kwargs", [{"mode": "random"}, {"schedule": [(0, "impossible")]}, {"start": "x"},
                                    {"promote_at": 0.2, "demote_at": 0.5}, {"window": 0}, {"review": 1.0}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(TaskError):
        Curriculum(**kwargs)
