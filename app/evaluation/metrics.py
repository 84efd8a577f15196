"""Ranking metrics for one held-out item per user, and catalog coverage."""

import numpy as np


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The 0-based position of each row's target in a stable descending sort.

    Ties count against the target when the tied item comes first in the
    catalog, exactly as a stable sort of the served list would place it.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    ahead = scores > target_scores
    columns = np.arange(scores.shape[1])[None, :]
    tied_before = (scores == target_scores) & (columns < targets[:, None])
    return (ahead | tied_before).sum(axis=1)


def hit_rate(ranks: np.ndarray, k: int) -> float:
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """With one relevant item the ideal DCG is 1, so NDCG is 1/log2(rank + 2)."""
    if not len(ranks):
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def mrr(ranks: np.ndarray, k: int) -> float:
    if not len(ranks):
        return 0.0
    return float(np.mean(np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0)))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's `k` best columns, best first (stable for ties)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    return part[rows, order]


def coverage(top_lists: np.ndarray, item_count: int) -> float:
    """The share of the catalog that appears in at least one user's top list."""
    if item_count == 0:
        return 0.0
    return len(np.unique(top_lists)) / item_count


def set_precision(top_lists: np.ndarray, relevant: list[set[int]]) -> float:
    """Mean share of each top list found in that user's relevant set."""
    if not len(top_lists):
        return 0.0
    k = top_lists.shape[1]
    hits = [len(relevant[u] & set(row.tolist())) / k for u, row in enumerate(top_lists)]
    return float(np.mean(hits))


def set_ndcg(top_lists: np.ndarray, relevant: list[set[int]]) -> float:
    """NDCG of each top list against a set of equally relevant items."""
    if not len(top_lists):
        return 0.0
    k = top_lists.shape[1]
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    values = []
    for row, wanted in zip(top_lists, relevant, strict=True):
        gains = np.fromiter((item in wanted for item in row), dtype=float, count=k)
        ideal = discounts[: min(len(wanted), k)].sum()
        values.append(float(gains @ discounts / ideal) if ideal > 0 else 0.0)
    return float(np.mean(values))
