"""The embedded model: item neighbours plus item-to-next-item transitions,
folded in from a user's history at request time.

Two item-item matrices answer two questions. `neighbors` (cosine similarity
of the items' user columns) says what goes with everything the user has
shown interest in, older interest counting less. `transitions` says what
shoppers looked at right after the items the user looked at last, which is
what a next-item recommendation needs most. A user's scores blend both,
each scaled to its best item, and an interaction stored a moment ago
changes them without a retrain.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import scipy.sparse as sp

from app.recommenders.base import ScoredItem

# Popularity breaks ties and fills lists the two matrices cannot: small
# enough never to outrank an item either matrix scored.
POPULARITY_TIE_BREAK = 1e-6


@dataclass(frozen=True)
class ModelParams:
    """Hyperparameters, chosen on validation splits by bench/defaults.py."""

    # "cosine" item-kNN or "rp3beta" random-walk neighbours.
    similarity: str = "cosine"
    neighbors: int = 100
    shrink: float = 10.0
    rp3_alpha: float = 1.0
    rp3_beta: float = 0.5
    transition_neighbors: int = 100
    # Items up to this many steps after an item count as following it, the
    # k-th with weight transition_decay ** (k - 1).
    transition_window: int = 5
    transition_decay: float = 0.5
    transition_shrink: float = 5.0
    transition_beta: float = 0.0
    # Fold-in: the weight of the r-th most recent item halves every
    # history_half_life items; transitions fold in the latest sequence_items.
    history_half_life: float = 30.0
    sequence_items: int = 5
    sequence_decay: float = 0.5
    # Implicit matrix factorisation: 0 factors turns it off.
    factors: int = 32
    factor_regularization: float = 1.0
    factor_alpha: float = 10.0
    factor_iterations: int = 15
    # The blend: each part is scaled to its best item, then weighted.
    neighbor_weight: float = 0.5
    sequence_weight: float = 0.1
    factor_weight: float = 1.0
    # How much recent popularity adds to every score (0: a tie-break only).
    popularity_weight: float = 0.5
    popularity_half_life_days: float = 14.0


class ParamsInvalid(ValueError):
    """Parameter overrides that ModelParams does not have or cannot take."""


def params_with(overrides: dict[str, float | int | str]) -> ModelParams:
    """The shipped parameters with `overrides` (RECLOOP_EMBEDDED_PARAMS) applied."""
    defaults = ModelParams()
    unknown = sorted(set(overrides) - set(asdict(defaults)))
    if unknown:
        raise ParamsInvalid(f"RECLOOP_EMBEDDED_PARAMS has unknown parameters {unknown}")
    try:
        typed = {k: type(getattr(defaults, k))(v) for k, v in overrides.items()}
    except ValueError as exc:
        raise ParamsInvalid(f"RECLOOP_EMBEDDED_PARAMS: {exc}") from None
    return replace(defaults, **typed)


def overrides_of(params: ModelParams) -> dict[str, float | int | str]:
    """What `params` changes from the shipped defaults: `params_with`'s inverse."""
    defaults = asdict(ModelParams())
    return {k: v for k, v in asdict(params).items() if v != defaults[k]}


@dataclass(frozen=True)
class FoldIn:
    """Users' histories as parallel arrays, one entry per (user, item).

    `rows` says which user (0..user_count-1) an entry belongs to; `ranks` is
    the item's recency among that user's items, 0 for the latest.
    """

    rows: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    ranks: np.ndarray
    user_count: int


class EmbeddedModel:
    """An immutable trained model; retraining builds a new one and swaps it in."""

    def __init__(
        self,
        items: list[str],
        neighbors: sp.csr_matrix,
        transitions: sp.csr_matrix,
        factors: np.ndarray,
        popularity: np.ndarray,
        params: ModelParams,
        interaction_count: int = 0,
    ) -> None:
        self.items = items
        self.index = {item_id: i for i, item_id in enumerate(items)}
        self.neighbors = neighbors
        self.transitions = transitions
        self.factors = factors
        self._gram = factors.T.astype(np.float64) @ factors
        self.popularity = popularity
        self.params = params
        self.interaction_count = interaction_count
        top = float(popularity.max()) if len(popularity) else 0.0
        self._popularity_scaled = popularity / top if top > 0 else popularity
        self.popular_order = np.argsort(-popularity, kind="stable")

    @classmethod
    def empty(
        cls, items: list[str] | None = None, params: ModelParams | None = None
    ) -> "EmbeddedModel":
        count = len(items or [])
        zero = sp.csr_matrix((count, count), dtype=np.float32)
        return cls(
            items or [],
            zero,
            zero,
            np.zeros((count, 0), np.float32),
            np.zeros(count, np.float32),
            params or ModelParams(),
        )

    @property
    def item_count(self) -> int:
        return len(self.items)

    def scores(self, history: FoldIn) -> np.ndarray:
        """Dense scores, one row per user of `history`, one column per item."""
        params = self.params
        interest = history.weights * 0.5 ** (history.ranks / params.history_half_life)
        recent = history.ranks < params.sequence_items
        knn = _propagate(
            self.neighbors, history.rows, history.items, interest, history.user_count
        )
        seq = _propagate(
            self.transitions,
            history.rows[recent],
            history.items[recent],
            params.sequence_decay ** history.ranks[recent],
            history.user_count,
        )
        blended = params.neighbor_weight * _scaled(knn)
        blended += params.sequence_weight * _scaled(seq)
        if params.factor_weight and self.factors.shape[1]:
            users = self._fold_in_factors(history, interest)
            affinity = users.astype(np.float32) @ self.factors.T
            blended += params.factor_weight * _scaled(affinity.astype(np.float64))
        blended += (
            params.popularity_weight + POPULARITY_TIE_BREAK
        ) * self._popularity_scaled
        return blended

    def _fold_in_factors(self, history: FoldIn, interest: np.ndarray) -> np.ndarray:
        """Each user's factors given the item factors: the iALS least-squares
        step solved for the users of `history` alone, in implicit's own
        formulation (confidence alpha * r, regularisation lambda * I)."""
        params = self.params
        k = self.factors.shape[1]
        items = self.factors[history.items].astype(np.float64)
        confidence = params.factor_alpha * interest.astype(np.float64)
        regularized = self._gram + params.factor_regularization * np.eye(k)
        if history.user_count == 1:
            # The request path: one k x k system from two small products.
            left = regularized + (items.T * (confidence - 1.0)) @ items
            return np.linalg.solve(left, confidence @ items)[None, :]
        left = np.broadcast_to(regularized, (history.user_count, k, k)).copy()
        outer = items[:, :, None] * items[:, None, :]
        np.add.at(left, history.rows, (confidence - 1.0)[:, None, None] * outer)
        right = np.zeros((history.user_count, k))
        np.add.at(right, history.rows, confidence[:, None] * items)
        return np.linalg.solve(left, right[:, :, None])[:, :, 0]

    def recommend(self, history: FoldIn, n: int, exclude: set[str]) -> list[ScoredItem]:
        """Top `n` for one user's history; empty when no history item is known."""
        if len(history.items) == 0:
            return []
        scores = self.scores(history)[0]
        banned = [self.index[item] for item in exclude if item in self.index]
        scores[banned] = 0.0
        return self._top(scores, n)

    def popular(self, n: int, exclude: set[str]) -> list[ScoredItem]:
        result = []
        for i in self.popular_order:
            if len(result) == n or self.popularity[i] <= 0:
                break
            if self.items[i] not in exclude:
                result.append(
                    ScoredItem(
                        self.items[i], round(float(self._popularity_scaled[i]), 6)
                    )
                )
        return result

    def similar(self, item_id: str, n: int) -> list[ScoredItem] | None:
        """Items most often interacted with by the same users, best first."""
        row = self.index.get(item_id)
        if row is None:
            return None
        return self._top(self.neighbors[row].toarray().ravel(), n)

    def fold_in(self, net: dict[str, float]) -> FoldIn:
        """One user's net weight per item, most recent item first, as a FoldIn.

        Items that net to zero or below, and items the model does not know,
        are left out.
        """
        kept = [
            (self.index[item_id], weight)
            for item_id, weight in net.items()
            if weight > 0 and item_id in self.index
        ]
        items = np.asarray([row for row, _ in kept], dtype=np.int32)
        weights = np.log1p(np.asarray([w for _, w in kept], dtype=np.float32))
        return FoldIn(
            rows=np.zeros(len(kept), dtype=np.int32),
            items=items,
            weights=weights,
            ranks=np.arange(len(kept), dtype=np.float32),
            user_count=1,
        )

    def _top(self, scores: np.ndarray, n: int) -> list[ScoredItem]:
        positive = np.flatnonzero(scores > 0)
        if positive.size > n:
            best = np.argpartition(-scores[positive], n - 1)[:n]
            positive = positive[best]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [ScoredItem(self.items[i], round(float(scores[i]), 6)) for i in order]


def net_weights(history: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Each item's summed event weight, for a most-recent-first history.

    The result is ordered by each item's latest event, most recent first.
    """
    net: dict[str, float] = {}
    for item_id, weight in history:
        net[item_id] = net.get(item_id, 0.0) + weight
    return net


def _propagate(
    matrix: sp.csr_matrix,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    user_count: int,
) -> np.ndarray:
    """For each user, the weighted sum of the matrix rows of their items.

    Gathers the rows' entries straight from the CSR arrays and sums them with
    one bincount: for one user with a few hundred items this takes tens of
    microseconds, where building sparse matrices per request takes
    milliseconds.
    """
    item_count = matrix.shape[1]
    starts = matrix.indptr[items]
    lengths = matrix.indptr[items + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros((user_count, item_count))
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    entries = offsets + np.arange(total)
    targets = np.repeat(users.astype(np.int64), lengths) * item_count
    targets += matrix.indices[entries]
    values = matrix.data[entries] * np.repeat(weights, lengths)
    summed = np.bincount(targets, weights=values, minlength=user_count * item_count)
    return summed.reshape(user_count, item_count)


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum, so both parts of the blend range 0..1."""
    top = scores.max(axis=1, keepdims=True)
    np.divide(scores, top, out=scores, where=top > 0)
    return scores
