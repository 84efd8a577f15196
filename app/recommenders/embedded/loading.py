"""Reading every stored interaction into arrays for training.

This is the one place recloop reads a million rows, so it stays on fast
paths: SQLAlchemy Core (no ORM objects) in large partitions, event types
turned into weights by the database (rows of zero-weight types are not read
at all), and each partition transposed into columns before numpy takes it.
"""

from collections.abc import Mapping

import numpy as np
from sqlalchemy import case, func, literal, select

from app.db import Database
from app.models import Interaction
from app.recommenders.embedded.training import TrainingData

ROWS_PER_FETCH = 20_000


async def load_training_data(
    database: Database, event_weights: Mapping[str, float]
) -> tuple[TrainingData, int]:
    """Every weighted interaction, and the highest interaction id stored."""
    weighted = {kind: weight for kind, weight in event_weights.items() if weight}
    item_index: dict[str, int] = {}
    columns: tuple[list[np.ndarray], ...] = ([], [], [], [])
    async with database.engine.connect() as connection:
        through_id = await connection.scalar(select(func.max(Interaction.id)))
        if weighted and through_id is not None:
            result = await connection.stream(_query(weighted, through_id))
            async for partition in result.partitions():
                for column, values in zip(
                    columns, _columns(partition, item_index), strict=True
                ):
                    column.append(values)
    users, items, weights, times = (
        np.concatenate(column) if column else np.zeros(0, dtype)
        for column, dtype in zip(
            columns, (np.int64, np.int32, np.float32, np.int64), strict=True
        )
    )
    data = TrainingData(users, items, weights, times, list(item_index))
    return data, int(through_id or 0)


def _query(weights: Mapping[str, float], through_id: int):
    weight = case(
        *((Interaction.event_type == kind, literal(w)) for kind, w in weights.items())
    )
    return (
        select(
            Interaction.mpid, Interaction.item_id, weight, Interaction.occurred_at_ms
        )
        .where(Interaction.event_type.in_(list(weights)), Interaction.id <= through_id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )


def _columns(partition, item_index: dict[str, int]) -> tuple[np.ndarray, ...]:
    mpids, item_ids, weights, times = zip(*partition, strict=True)
    codes = [item_index.setdefault(item_id, len(item_index)) for item_id in item_ids]
    return (
        np.array(mpids, dtype=np.int64),
        np.array(codes, dtype=np.int32),
        np.array(weights, dtype=np.float32),
        np.array(times, dtype=np.int64),
    )
