import numpy as np
import pytest

from app.models import Interaction
from app.models.base import utcnow
from app.recommenders.embedded.model import EmbeddedModel
from app.recommenders.embedded.training import TrainingData, train

# Shoppers walk the chain A -> B -> C -> D (each step the next item); a
# second group buys X and Y together.
CHAIN = ["A", "B", "C", "D"]
PAIR = ["X", "Y"]


def chain_data() -> TrainingData:
    item_ids = CHAIN + PAIR + ["Z"]
    users, items, times = [], [], []
    for user in range(30):
        sequence = CHAIN if user < 20 else PAIR
        for step, item_id in enumerate(sequence):
            users.append(user)
            items.append(item_ids.index(item_id))
            times.append(1_000_000 + user * 1000 + step)
    users.append(99)
    items.append(item_ids.index("Z"))
    times.append(2_000_000)
    return TrainingData(
        users=np.array(users, dtype=np.int64),
        items=np.array(items, dtype=np.int32),
        weights=np.ones(len(users), dtype=np.float32),
        times_ms=np.array(times, dtype=np.int64),
        item_ids=item_ids,
    )


@pytest.fixture
def chain_model() -> EmbeddedModel:
    return train(chain_data())


async def store_interactions(database, rows) -> None:
    """Store (mpid, item_id, event_type, occurred_at_ms) rows as interactions."""
    async with database.write() as session:
        for mpid, item_id, event_type, occurred_at_ms in rows:
            session.add(
                Interaction(
                    key=f"{mpid}:{item_id}:{event_type}:{occurred_at_ms}",
                    event_key=f"{mpid}:{occurred_at_ms}",
                    mpid=mpid,
                    item_id=item_id,
                    event_type=event_type,
                    occurred_at_ms=occurred_at_ms,
                    received_at=utcnow(),
                )
            )


def chain_rows(users: range, start_ms: int = 1_000_000) -> list[tuple]:
    """Each user views the chain A -> B -> C -> D in order."""
    return [
        (mpid, item_id, "view_detail", start_ms + mpid * 100 + step)
        for mpid in users
        for step, item_id in enumerate(CHAIN)
    ]
