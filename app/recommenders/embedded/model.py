"""Item-based collaborative filtering with fold-in at request time.

Training builds, for every item, its most similar items: cosine similarity
between the items' columns in the user-item matrix of weighted
interactions, shrunk towards zero when few users support it. Recommending
for a user adds up the neighbours of the items in their current history, so
an interaction stored a moment ago changes the list without a retrain.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from app.recommenders.base import ScoredItem

# Rows of the item-item product computed at once: bounds training memory to
# about BLOCK_ROWS x items x 4 bytes for the dense scratch block.
BLOCK_ROWS = 1024


@dataclass(frozen=True)
class TrainingData:
    """Interactions as parallel arrays; `weights` already reflect event types."""

    user_ids: np.ndarray  # int64 MPIDs
    item_ids: Sequence[str]
    weights: np.ndarray  # float32
    times_ms: np.ndarray  # int64


@dataclass(frozen=True)
class ModelParams:
    neighbors: int = 100
    shrink: float = 10.0
    popularity_half_life_days: float = 14.0
    # A user's older interactions count less: weight halves every this many
    # events back in their history.
    history_half_life_events: float = 20.0


class ItemKNN:
    """An immutable trained model; retraining builds a new one and swaps it in."""

    def __init__(
        self,
        items: list[str],
        similarity: sp.csr_matrix,
        popularity: np.ndarray,
        params: ModelParams,
        interaction_count: int = 0,
    ) -> None:
        self.items = items
        self.index = {item_id: i for i, item_id in enumerate(items)}
        self.similarity = similarity
        self.popularity = popularity
        self.popular_order = np.argsort(-popularity, kind="stable")
        self.params = params
        self.interaction_count = interaction_count

    @classmethod
    def empty(cls, params: ModelParams | None = None) -> "ItemKNN":
        return cls(
            [],
            sp.csr_matrix((0, 0), dtype=np.float32),
            np.zeros(0),
            params or ModelParams(),
        )

    @property
    def item_count(self) -> int:
        return len(self.items)

    def recommend(
        self, history: Sequence[tuple[str, float]], n: int, exclude: set[str]
    ) -> list[ScoredItem]:
        """Top `n` for a history of (item_id, weight), most recent first."""
        rows, weights = self._known(history)
        if not rows:
            return []
        scores = np.asarray(self.similarity[rows].T @ weights, dtype=np.float64)
        banned = [self.index[item] for item in exclude if item in self.index]
        scores[banned] = 0.0
        return self._top(scores, n)

    def popular(self, n: int, exclude: set[str]) -> list[ScoredItem]:
        top = self.popularity[self.popular_order[0]] if self.item_count else 0.0
        result = []
        for i in self.popular_order:
            if len(result) == n:
                break
            if self.items[i] not in exclude and top > 0 and self.popularity[i] > 0:
                result.append(
                    ScoredItem(self.items[i], round(float(self.popularity[i] / top), 6))
                )
        return result

    def similar(self, item_id: str, n: int) -> list[ScoredItem] | None:
        row = self.index.get(item_id)
        if row is None:
            return None
        return self._top(self.similarity[row].toarray().ravel(), n)

    def _known(
        self, history: Sequence[tuple[str, float]]
    ) -> tuple[list[int], np.ndarray]:
        rows: list[int] = []
        weights: list[float] = []
        half_life = self.params.history_half_life_events
        for age, (item_id, weight) in enumerate(history):
            row = self.index.get(item_id)
            if row is not None:
                rows.append(row)
                weights.append(weight * 0.5 ** (age / half_life))
        return rows, np.asarray(weights, dtype=np.float32)

    def _top(self, scores: np.ndarray, n: int) -> list[ScoredItem]:
        positive = np.flatnonzero(scores > 0)
        if positive.size > n:
            best = np.argpartition(-scores[positive], n - 1)[:n]
            positive = positive[best]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [ScoredItem(self.items[i], round(float(scores[i]), 6)) for i in order]


def train(data: TrainingData, params: ModelParams | None = None) -> ItemKNN:
    params = params or ModelParams()
    if len(data.item_ids) == 0:
        return ItemKNN.empty(params)
    items, item_rows = _factorize(data.item_ids)
    _, user_rows = np.unique(data.user_ids, return_inverse=True)
    matrix = sp.csr_matrix(
        (data.weights.astype(np.float32), (user_rows, item_rows)),
        shape=(int(user_rows.max()) + 1, len(items)),
    )
    # Repeated interactions add up but with diminishing returns: ten views of
    # an item say more than one, not ten times more. A net negative (a
    # refund outweighing the purchase) leaves the item out of the user's row.
    matrix.data = np.log1p(np.maximum(matrix.data, 0.0))
    similarity = _item_similarity(matrix, params)
    popularity = _popularity(item_rows, data, len(items), params)
    return ItemKNN(items, similarity, popularity, params, len(data.item_ids))


def _factorize(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    index: dict[str, int] = {}
    rows = np.fromiter(
        (index.setdefault(value, len(index)) for value in values),
        dtype=np.int64,
        count=len(values),
    )
    return list(index), rows


def _item_similarity(matrix: sp.csr_matrix, params: ModelParams) -> sp.csr_matrix:
    item_count = matrix.shape[1]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    by_item = matrix.T.tocsr()
    k = min(params.neighbors, max(item_count - 1, 1))
    blocks = []
    for start in range(0, item_count, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, item_count)
        co = (by_item[start:stop] @ matrix).toarray()
        co /= np.outer(norms[start:stop], norms) + params.shrink
        co[np.arange(stop - start), np.arange(start, stop)] = 0.0
        blocks.append(_keep_top(co, k))
    return sp.vstack(blocks, format="csr", dtype=np.float32)


def _keep_top(block: np.ndarray, k: int) -> sp.csr_matrix:
    if block.shape[1] > k:
        threshold_cols = np.argpartition(-block, k - 1, axis=1)[:, :k]
        kept = np.zeros_like(block)
        rows = np.arange(block.shape[0])[:, None]
        kept[rows, threshold_cols] = block[rows, threshold_cols]
        block = kept
    block[block < 0] = 0.0
    return sp.csr_matrix(block, dtype=np.float32)


def _popularity(
    item_rows: np.ndarray, data: TrainingData, item_count: int, params: ModelParams
) -> np.ndarray:
    """Weighted interaction counts, halved for every half-life of age."""
    newest_ms = int(data.times_ms.max())
    age_days = (newest_ms - data.times_ms) / 86_400_000
    decay = 0.5 ** (age_days / params.popularity_half_life_days)
    return np.bincount(item_rows, weights=data.weights * decay, minlength=item_count)
