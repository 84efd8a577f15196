"""The recommenders `recloop evaluate` compares, behind one small interface.

Each scorer trains on the training interactions, then scores every item for
a batch of users. `EmbeddedScorer` runs recloop's own model code, fold-in
included; the others are the literature's reference baselines.
"""

from typing import Protocol

import numpy as np
import scipy.sparse as sp

from app.evaluation.dataset import Interactions
from app.recommenders.embedded import training
from app.recommenders.embedded.model import EmbeddedModel, FoldIn, ModelParams

# A dense item x item matrix of float64 with room for its inverse: EASE is
# refused above this many items rather than exhausting memory.
EASE_MAX_ITEMS = 15_000


class ScorerUnavailable(ValueError):
    """The scorer cannot run on this data (EASE on a very large catalog)."""


class Scorer(Protocol):
    name: str

    def fit(self, train: Interactions) -> None: ...

    def score(self, users: np.ndarray) -> np.ndarray: ...


def user_item_matrix(train: Interactions, binary: bool = True) -> sp.csr_matrix:
    values = np.ones(len(train), np.float32) if binary else train.weights
    matrix = sp.csr_matrix(
        (values, (train.users, train.items)),
        shape=(train.user_count, train.item_count),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    return matrix


class Popularity:
    """Every user gets the items most users interacted with."""

    name = "popularity"

    def fit(self, train: Interactions) -> None:
        counts = np.bincount(train.items, minlength=train.item_count)
        self._counts = counts.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self._counts, (len(users), 1))


class ItemKNN:
    """Classic item-based CF: cosine neighbours, summed over the user's items."""

    name = "item-knn"

    def __init__(self, neighbors: int = 100, shrink: float = 10.0) -> None:
        self.neighbors = neighbors
        self.shrink = shrink

    def fit(self, train: Interactions) -> None:
        self._matrix = user_item_matrix(train)
        self._similarity = training.item_similarity(
            self._matrix, self.neighbors, self.shrink
        )

    def score(self, users: np.ndarray) -> np.ndarray:
        return (self._matrix[users] @ self._similarity).toarray()


class EASE:
    """Steck's closed-form linear autoencoder (WWW 2019), the reference ceiling."""

    name = "ease"

    def __init__(self, l2: float = 500.0) -> None:
        self.l2 = l2

    def fit(self, train: Interactions) -> None:
        if train.item_count > EASE_MAX_ITEMS:
            raise ScorerUnavailable(
                f"EASE needs a dense {train.item_count}x{train.item_count} matrix; "
                f"skipped above {EASE_MAX_ITEMS} items"
            )
        self._matrix = user_item_matrix(train)
        gram = (self._matrix.T @ self._matrix).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = precision / -np.diag(precision)
        np.fill_diagonal(weights, 0.0)
        self._weights = weights.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self._matrix[users] @ self._weights)


class EmbeddedScorer:
    """recloop's embedded model, trained and folded in exactly as in production."""

    name = "recloop"

    def __init__(self, params: ModelParams | None = None) -> None:
        self.params = params or ModelParams()

    def fit(self, train: Interactions) -> None:
        data = training.TrainingData(
            users=train.users.astype(np.int64),
            items=train.items,
            weights=train.weights,
            times_ms=train.times_ms,
            item_ids=train.item_ids,
        )
        self.model: EmbeddedModel = training.train(data, self.params)
        self._histories = _Histories(train)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.model.scores(self._histories.for_users(users))


class _Histories:
    """Every user's training items, most recent first, ready to fold in."""

    def __init__(self, train: Interactions) -> None:
        order = np.lexsort((-train.times_ms, train.users))
        self.users = train.users[order]
        self.items = train.items[order]
        self.weights = np.log1p(train.weights[order]).astype(np.float32)
        starts = np.searchsorted(self.users, np.arange(train.user_count))
        self.starts = np.r_[starts, len(self.users)]
        self.ranks = (np.arange(len(self.users)) - starts[self.users]).astype(
            np.float32
        )

    def for_users(self, users: np.ndarray) -> FoldIn:
        spans = [np.arange(self.starts[u], self.starts[u + 1]) for u in users]
        picked = np.concatenate(spans) if spans else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(len(users)), [len(span) for span in spans])
        return FoldIn(
            rows=rows.astype(np.int32),
            items=self.items[picked],
            weights=self.weights[picked],
            ranks=self.ranks[picked],
            user_count=len(users),
        )
