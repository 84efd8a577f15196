import numpy as np
import pytest

from app.evaluation.dataset import Interactions
from app.evaluation.scorers import EASE, ItemKNN, Popularity, ScorerUnavailable


def _interactions(matrix: list[list[int]]) -> Interactions:
    users, items = np.nonzero(np.array(matrix))
    return Interactions(
        users=users.astype(np.int32),
        items=items.astype(np.int32),
        weights=np.ones(len(users), np.float32),
        times_ms=np.arange(len(users), dtype=np.int64),
        user_ids=[str(u) for u in range(len(matrix))],
        item_ids=[str(i) for i in range(len(matrix[0]))],
    )


def test_ease_matches_its_closed_form_on_two_items():
    # Gram matrix [[3, 2], [2, 2]]; with L2 weight 1 the closed form gives
    # B[0, 1] = G01 / (G00 + 1) = 0.5 and B[1, 0] = G01 / (G11 + 1) = 2/3.
    train = _interactions([[1, 1], [1, 0], [1, 1], [0, 0]])
    ease = EASE(l2=1.0)
    ease.fit(train)
    scores = ease.score(np.array([1, 3]))
    assert scores[0].tolist() == pytest.approx([0.0, 0.5])
    assert scores[1].tolist() == [0.0, 0.0]
    assert ease._weights[1, 0] == pytest.approx(2 / 3)


def test_ease_refuses_a_catalog_too_large_for_a_dense_matrix(monkeypatch):
    monkeypatch.setattr("app.evaluation.scorers.EASE_MAX_ITEMS", 2)
    with pytest.raises(ScorerUnavailable, match="3x3"):
        EASE().fit(_interactions([[1, 1, 1]]))


def test_popularity_ranks_by_number_of_users():
    train = _interactions([[1, 0, 1], [0, 0, 1], [1, 0, 1]])
    popularity = Popularity()
    popularity.fit(train)
    assert popularity.score(np.array([1]))[0].tolist() == [2.0, 0.0, 3.0]


def test_item_knn_scores_co_occurring_items():
    train = _interactions([[1, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]])
    knn = ItemKNN(shrink=0.0)
    knn.fit(train)
    scores = knn.score(np.array([3]))[0]
    assert scores[1] > 0
    assert scores[2] == 0.0
