from collections.abc import Sequence

import numpy as np

from app.evaluation.dataset import Interactions


def interactions(
    rows: Sequence[tuple[int, int, float, int]], item_count: int | None = None
) -> Interactions:
    """(user, item, weight, time) rows as Interactions, ids u0.. and i0.."""
    users, items, weights, times = zip(*rows, strict=True)
    return Interactions(
        users=np.array(users, dtype=np.int32),
        items=np.array(items, dtype=np.int32),
        weights=np.array(weights, dtype=np.float32),
        times_ms=np.array(times, dtype=np.int64),
        user_ids=[f"u{i}" for i in range(max(users) + 1)],
        item_ids=[f"i{i}" for i in range(item_count or max(items) + 1)],
    )
