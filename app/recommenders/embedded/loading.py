"""Reading every stored interaction into arrays for training.

Rows come through SQLAlchemy Core in large batches (no ORM objects), event
types become weights through a small per-type cache, and item ids are
coded to integers on the way, so memory stays near the arrays' own size.
"""

from collections.abc import Callable

import numpy as np
from sqlalchemy import select

from app.db import Database
from app.models import Interaction
from app.recommenders.embedded.training import TrainingData

ROWS_PER_FETCH = 20_000


async def load_training_data(
    database: Database, weight_of: Callable[[str], float]
) -> tuple[TrainingData, int]:
    """Every interaction, and the highest interaction id among them."""
    query = select(
        Interaction.id,
        Interaction.mpid,
        Interaction.item_id,
        Interaction.event_type,
        Interaction.occurred_at_ms,
    ).execution_options(yield_per=ROWS_PER_FETCH)
    item_index: dict[str, int] = {}
    weights_by_type: dict[str, float] = {}
    columns: tuple[list[int], list[int], list[int], list[float], list[int]] = (
        [],
        [],
        [],
        [],
        [],
    )
    ids, users, items, weights, times = columns
    async with database.engine.connect() as connection:
        result = await connection.stream(query)
        async for partition in result.partitions():
            for row_id, mpid, item_id, event_type, occurred_at_ms in partition:
                weight = weights_by_type.get(event_type)
                if weight is None:
                    weight = weights_by_type.setdefault(
                        event_type, weight_of(event_type)
                    )
                ids.append(row_id)
                users.append(mpid)
                items.append(item_index.setdefault(item_id, len(item_index)))
                weights.append(weight)
                times.append(occurred_at_ms)
    data = TrainingData(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int32),
        weights=np.asarray(weights, dtype=np.float32),
        times_ms=np.asarray(times, dtype=np.int64),
        item_ids=list(item_index),
    )
    return data, max(ids, default=0)
