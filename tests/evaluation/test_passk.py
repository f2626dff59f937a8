"""The unbiased pass@k estimator against its combinatorial definition."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracefix_rl.evaluation import mean_pass_at_k, pass_at_k


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_one_minus_comb_ratio(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_matches_enumerating_every_draw():
    # 5 rollouts, 2 correct: the share of 3-subsets holding at least one correct rollout
    rollouts = [True, True, False, False, False]
    draws = list(itertools.combinations(rollouts, 3))
    assert pass_at_k(5, 2, 3) == pytest.approx(sum(any(d) for d in draws) / len(draws))


def test_edges_and_errors():
    assert pass_at_k(4, 0, 4) == 0.0
    assert pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(3, 1, 3) == 1.0  # every draw of all three holds the correct one
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    for n, c, k in ((3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


def test_mean_leaves_out_tasks_with_fewer_rollouts_than_k():
    mean, covered = mean_pass_at_k([(3, 3), (3, 0), (1, 1)], 2)
    assert covered == 2 and mean == pytest.approx(0.5)
    assert mean_pass_at_k([(1, 1)], 2) == (None, 0)
