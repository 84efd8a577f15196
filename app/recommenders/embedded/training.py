"""Training the embedded model: item neighbours, item-to-next-item transitions
and recency-weighted popularity, all from one pass over the interactions.

Every step is sparse or works on bounded blocks, so memory grows with the
number of interactions and items, never with items squared.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from app.recommenders.embedded.model import EmbeddedModel, ModelParams

# Items whose co-occurrences are computed at once: bounds training memory to
# one block's co-occurring pairs.
BLOCK_ROWS = 2048
# Factorisation starts from seeded random factors: the same data trains the
# same model.
FACTOR_SEED = 42


@dataclass(frozen=True)
class TrainingData:
    """Interactions as parallel arrays; `weights` already reflect event types.

    `items` are rows in `item_ids`; `users` are any integer user keys.
    """

    users: np.ndarray  # int64
    items: np.ndarray  # int32
    weights: np.ndarray  # float32
    times_ms: np.ndarray  # int64
    item_ids: Sequence[str]

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Pairs:
    """One row per (user, item) the user is net positive about, in the order
    each user first met their items."""

    users: np.ndarray  # int64, grouped, each user's rows consecutive
    items: np.ndarray  # int32
    weights: np.ndarray  # float32, summed over the pair's events
    first_ms: np.ndarray  # int64


def positive_pairs(
    users: np.ndarray, items: np.ndarray, weights: np.ndarray, times_ms: np.ndarray
) -> Pairs:
    """Sum each (user, item)'s event weights, keep the net-positive pairs.

    Negative weights (a refund, a removal from the cart) cancel positive ones;
    a pair that nets to zero or below says the user does not want the item.
    """
    if len(users) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty.astype(np.int32), empty.astype(np.float32), empty)
    order = np.lexsort((times_ms, items, users))
    u, i = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, (u[1:] != u[:-1]) | (i[1:] != i[:-1])])
    summed = np.add.reduceat(weights[order].astype(np.float64), starts)
    first = times_ms[order][starts]
    keep = summed > 0
    u, i, w, t = u[starts][keep], i[starts][keep], summed[keep], first[keep]
    # Within each user, order by first contact: the sequence they browsed in.
    by_time = np.lexsort((t, u))
    return Pairs(
        users=u[by_time].astype(np.int64),
        items=i[by_time].astype(np.int32),
        weights=w[by_time].astype(np.float32),
        first_ms=t[by_time],
    )


def train(data: TrainingData, params: ModelParams | None = None) -> EmbeddedModel:
    params = params or ModelParams()
    item_count = len(data.item_ids)
    pairs = positive_pairs(data.users, data.items, data.weights, data.times_ms)
    if item_count == 0 or len(pairs.users) == 0:
        return EmbeddedModel.empty(list(data.item_ids), params)
    matrix = _user_item_matrix(pairs, item_count)
    return EmbeddedModel(
        items=list(data.item_ids),
        neighbors=_neighbors(matrix, params),
        factors=item_factors(matrix, params),
        transitions=_transitions(pairs, item_count, params),
        popularity=_popularity(data, item_count, params),
        params=params,
        interaction_count=len(data),
    )


def _user_item_matrix(pairs: Pairs, item_count: int) -> sp.csr_matrix:
    _, user_rows = np.unique(pairs.users, return_inverse=True)
    # Repeated interactions add up with diminishing returns: ten views of an
    # item say more than one, not ten times more.
    values = np.log1p(pairs.weights).astype(np.float32)
    return sp.csr_matrix(
        (values, (user_rows, pairs.items)),
        shape=(int(user_rows.max()) + 1, item_count),
    )


def item_similarity(
    matrix: sp.csr_matrix, neighbors: int, shrink: float
) -> sp.csr_matrix:
    """Cosine similarity of item columns, shrunk when few users support it.

    Works on blocks of items and only on the pairs that co-occur, so memory
    follows the co-occurrence count rather than items squared.
    """
    squares = matrix.multiply(matrix).sum(axis=0)
    norms = np.sqrt(np.asarray(squares).ravel())
    by_item = matrix.T.tocsr()
    blocks = []
    for start in range(0, matrix.shape[1], BLOCK_ROWS):
        block = (by_item[start : start + BLOCK_ROWS] @ matrix).tocoo()
        rows, cols = block.row, block.col
        values = block.data / (norms[rows + start] * norms[cols] + shrink)
        values[rows + start == cols] = 0.0
        scaled = sp.csr_matrix((values, (rows, cols)), shape=block.shape)
        blocks.append(top_per_row(scaled, neighbors))
    return sp.vstack(blocks, format="csr", dtype=np.float32)


def item_factors(matrix: sp.csr_matrix, params: ModelParams) -> np.ndarray:
    """Item factors of implicit-feedback matrix factorisation (iALS, Hu et al.
    2008), from the `implicit` library; users are folded in at request time."""
    if params.factors == 0 or params.factor_weight == 0:
        return np.zeros((matrix.shape[1], 0), dtype=np.float32)
    # implicit parallelises itself; BLAS threads on top would oversubscribe
    # the cores (implicit warns about it when it is built).
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.factor_regularization,
            alpha=params.factor_alpha,
            iterations=params.factor_iterations,
            random_state=FACTOR_SEED,
        )
        model.fit(matrix, show_progress=False)
    return np.ascontiguousarray(model.item_factors, dtype=np.float32)


def _neighbors(matrix: sp.csr_matrix, params: ModelParams) -> sp.csr_matrix:
    if params.similarity == "rp3beta":
        return rp3beta_similarity(
            matrix, params.neighbors, params.rp3_alpha, params.rp3_beta
        )
    return item_similarity(matrix, params.neighbors, params.shrink)


def rp3beta_similarity(
    matrix: sp.csr_matrix, neighbors: int, alpha: float, beta: float
) -> sp.csr_matrix:
    """RP3beta (Paudel et al., 2017): the probability of walking item -> user
    -> item, each step raised to `alpha`, divided by the target's popularity
    to the power `beta` so that popular items do not dominate every list."""
    binary = matrix.copy()
    binary.data[:] = 1.0
    user_degree = np.asarray(binary.sum(axis=1)).ravel()
    item_degree = np.asarray(binary.sum(axis=0)).ravel()
    user_to_item = sp.diags(1.0 / np.maximum(user_degree, 1)) @ binary
    item_to_user = (binary @ sp.diags(1.0 / np.maximum(item_degree, 1))).T.tocsr()
    user_to_item.data **= alpha
    item_to_user.data **= alpha
    penalty = 1.0 / np.power(np.maximum(item_degree, 1), beta)
    blocks = []
    for start in range(0, matrix.shape[1], BLOCK_ROWS):
        block = (item_to_user[start : start + BLOCK_ROWS] @ user_to_item).tocoo()
        values = block.data * penalty[block.col]
        values[block.row + start == block.col] = 0.0
        scaled = sp.csr_matrix((values, (block.row, block.col)), shape=block.shape)
        blocks.append(top_per_row(scaled, neighbors))
    return sp.vstack(blocks, format="csr", dtype=np.float32)


def _transitions(pairs: Pairs, item_count: int, params: ModelParams) -> sp.csr_matrix:
    """How often item j came within the next few items after item i.

    Counts are divided by the source item's count plus a shrink, giving a
    damped estimate of P(next is j | just saw i); popular targets are
    discounted so they do not crowd out what specifically follows i.
    """
    rows, cols, values = [], [], []
    for gap in range(1, params.transition_window + 1):
        same_user = pairs.users[gap:] == pairs.users[:-gap]
        rows.append(pairs.items[:-gap][same_user])
        cols.append(pairs.items[gap:][same_user])
        values.append(
            np.full(int(same_user.sum()), params.transition_decay ** (gap - 1))
        )
    counts = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(item_count, item_count),
        dtype=np.float64,
    )
    counts.setdiag(0.0)
    counts.eliminate_zeros()
    out_degree = np.asarray(counts.sum(axis=1)).ravel()
    in_degree = np.asarray(counts.sum(axis=0)).ravel()
    scaled = sp.diags(1.0 / (out_degree + params.transition_shrink)) @ counts
    scaled = scaled @ sp.diags(1.0 / np.power(in_degree + 1.0, params.transition_beta))
    return top_per_row(scaled.tocsr(), params.transition_neighbors)


def top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's `k` largest positive entries, staying sparse throughout."""
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    # One float key orders by row, then by value descending: a single
    # argsort is several times faster than a two-key lexsort.
    top = float(matrix.data.max()) if matrix.nnz else 1.0
    order = np.argsort(rows + (1.0 - np.clip(matrix.data / (2.0 * top), 0, 0.5)))
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    keep = order[(rank < k) & (matrix.data[order] > 0)]
    return sp.csr_matrix(
        (matrix.data[keep].astype(np.float32), (rows[keep], matrix.indices[keep])),
        shape=matrix.shape,
    )


def _popularity(data: TrainingData, item_count: int, params: ModelParams) -> np.ndarray:
    """Weighted interaction counts, halved for every half-life of age."""
    newest_ms = int(data.times_ms.max())
    age_days = (newest_ms - data.times_ms) / 86_400_000
    decay = 0.5 ** (age_days / params.popularity_half_life_days)
    positive = np.clip(data.weights, 0.0, None)
    counts = np.bincount(data.items, weights=positive * decay, minlength=item_count)
    return counts.astype(np.float32)
