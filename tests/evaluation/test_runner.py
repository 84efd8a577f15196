import numpy as np
import pytest

from app.evaluation.dataset import Interactions
from app.evaluation.protocol import leave_last_out
from app.evaluation.runner import evaluate
from tests.evaluation.conftest import interactions


class Oracle:
    """Scores each user's held-out item second best, after an item they know."""

    name = "oracle"

    def __init__(self, targets: dict[int, int], known: dict[int, int]) -> None:
        self.targets = targets
        self.known = known

    def fit(self, train: Interactions) -> None:
        self.item_count = train.item_count

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = np.zeros((len(users), self.item_count))
        for row, user in enumerate(users):
            scores[row, self.known[int(user)]] = 2.0
            scores[row, self.targets[int(user)]] = 1.0
        return scores


def _data() -> Interactions:
    return interactions(
        [(u, (u + k) % 6, 1.0, 10 * k) for u in range(4) for k in range(4)]
    )


def test_items_seen_in_training_are_never_ranked():
    split = leave_last_out(_data())
    targets = dict(
        zip(split.test_users.tolist(), split.test_items.tolist(), strict=True)
    )
    # The oracle's best item is one the user already has: excluded, the
    # held-out item is first.
    known = {user: user % 6 for user in targets}
    (result,) = evaluate([Oracle(targets, known)], split)
    assert result.values["HR@10"] == 1.0
    assert result.values["NDCG@10"] == pytest.approx(1.0)
    assert result.values["MRR@10"] == pytest.approx(1.0)
    assert result.values["train_s"] >= 0
    assert result.values["peak_MB"] >= 0


def test_ground_truth_metrics_are_reported_when_given():
    split = leave_last_out(_data())
    targets = dict(
        zip(split.test_users.tolist(), split.test_items.tolist(), strict=True)
    )
    known = {user: user % 6 for user in targets}
    truth = [{targets[int(u)]} for u in split.test_users]
    (result,) = evaluate([Oracle(targets, known)], split, k=1, ground_truth=truth)
    assert result.values["GT-P@1"] == 1.0
    assert result.values["GT-NDCG@1"] == pytest.approx(1.0)
