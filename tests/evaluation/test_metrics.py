import math

import numpy as np
import pytest

from app.evaluation import metrics


def test_target_rank_counts_better_items_and_earlier_ties():
    scores = np.array(
        [
            [0.9, 0.5, 0.7, 0.1],  # target 1: 0.9 and 0.7 beat it -> rank 2
            [0.3, 0.3, 0.3, 0.3],  # target 2: ties with 0 and 1 first -> rank 2
            [0.0, 0.0, 0.8, 0.0],  # target 2: best -> rank 0
        ]
    )
    ranks = metrics.target_ranks(scores, np.array([1, 2, 2]))
    assert ranks.tolist() == [2, 2, 0]


def test_hit_rate_ndcg_and_mrr_by_hand():
    ranks = np.array([0, 2, 9, 10])
    assert metrics.hit_rate(ranks, 10) == pytest.approx(3 / 4)
    expected_ndcg = (1 / math.log2(2) + 1 / math.log2(4) + 1 / math.log2(11)) / 4
    assert metrics.ndcg(ranks, 10) == pytest.approx(expected_ndcg)
    assert metrics.mrr(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 10) / 4)
    assert metrics.hit_rate(ranks, 1) == pytest.approx(1 / 4)


def test_metrics_of_no_users_are_zero():
    empty = np.zeros(0, dtype=np.int64)
    assert metrics.hit_rate(empty, 10) == metrics.ndcg(empty, 10) == 0.0
    assert metrics.mrr(empty, 10) == 0.0


def test_top_k_is_ordered_best_first_with_stable_ties():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.0]])
    assert metrics.top_k(scores, 3).tolist() == [[1, 3, 2]]


def test_coverage_is_the_share_of_items_in_any_list():
    lists = np.array([[0, 1], [1, 2]])
    assert metrics.coverage(lists, 10) == pytest.approx(0.3)


def test_set_precision_and_ndcg_against_ground_truth():
    lists = np.array([[4, 5, 6], [1, 2, 3]])
    relevant = [{5}, {1, 2, 3, 9}]
    assert metrics.set_precision(lists, relevant) == pytest.approx((1 / 3 + 1) / 2)
    first = (1 / math.log2(3)) / 1.0
    assert metrics.set_ndcg(lists, relevant) == pytest.approx((first + 1.0) / 2)
