"""Running the protocol: train each scorer, rank for every held-out user,
measure quality, training time and peak memory in one run."""

import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from app.evaluation import metrics
from app.evaluation.protocol import Split
from app.evaluation.scorers import Scorer, ScorerUnavailable, user_item_matrix

K = 10
USERS_PER_BATCH = 512


@dataclass(frozen=True)
class Result:
    name: str
    values: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None


def evaluate(
    scorers: Sequence[Scorer],
    split: Split,
    k: int = K,
    ground_truth: list[set[int]] | None = None,
) -> list[Result]:
    """Each scorer's metrics on `split`; `ground_truth` is per tested user."""
    seen = user_item_matrix(split.train)
    return [_evaluate_one(scorer, split, seen, k, ground_truth) for scorer in scorers]


def _evaluate_one(
    scorer: Scorer,
    split: Split,
    seen: sp.csr_matrix,
    k: int,
    ground_truth: list[set[int]] | None,
) -> Result:
    try:
        train_seconds, peak_bytes = _measured_fit(scorer, split)
    except ScorerUnavailable as exc:
        return Result(scorer.name, skipped=str(exc))
    ranks, top_lists = _rank(scorer, split, seen, k)
    values = {
        f"HR@{k}": metrics.hit_rate(ranks, k),
        f"NDCG@{k}": metrics.ndcg(ranks, k),
        f"MRR@{k}": metrics.mrr(ranks, k),
        "coverage": metrics.coverage(top_lists, split.train.item_count),
        "train_s": train_seconds,
        "peak_MB": peak_bytes / 2**20,
    }
    if ground_truth is not None:
        values[f"GT-P@{k}"] = metrics.set_precision(top_lists, ground_truth)
        values[f"GT-NDCG@{k}"] = metrics.set_ndcg(top_lists, ground_truth)
    return Result(scorer.name, values)


def _measured_fit(scorer: Scorer, split: Split) -> tuple[float, int]:
    """Wall time and peak traced allocation (numpy arrays included) of a fit."""
    tracemalloc.start()
    try:
        started = time.perf_counter()
        scorer.fit(split.train)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak


def _rank(
    scorer: Scorer, split: Split, seen: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray]:
    ranks, tops = [], []
    for start in range(0, len(split.test_users), USERS_PER_BATCH):
        users = split.test_users[start : start + USERS_PER_BATCH]
        targets = split.test_items[start : start + USERS_PER_BATCH]
        scores = np.asarray(scorer.score(users), dtype=np.float64)
        _exclude_seen(scores, seen[users])
        ranks.append(metrics.target_ranks(scores, targets))
        tops.append(metrics.top_k(scores, k))
    if not ranks:
        return np.zeros(0, np.int64), np.zeros((0, k), np.int64)
    return np.concatenate(ranks), np.concatenate(tops)


def _exclude_seen(scores: np.ndarray, seen: sp.csr_matrix) -> None:
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
