from datetime import timedelta

import pytest
from sqlalchemy import select

from app.impact.repository import record_served_many
from app.impact.retention import prune_served
from app.models import ServedRecommendation
from app.models.base import utcnow

pytestmark = pytest.mark.anyio


async def test_lists_past_the_retention_are_deleted_and_recent_ones_kept(database):
    now = utcnow()
    async with database.write() as session:
        await record_served_many(
            session,
            [
                {
                    "recommendation_id": rid,
                    "mpid": 1,
                    "item_ids": ["A"],
                    "source": "embedded",
                    "generated_at": now - timedelta(days=age_days),
                }
                for rid, age_days in (("old", 91), ("recent", 89), ("today", 0))
            ],
        )

    assert await prune_served(database, retention_days=90) == 1

    async with database.read() as session:
        kept = set(
            await session.scalars(select(ServedRecommendation.recommendation_id))
        )
    assert kept == {"recent", "today"}
    assert await prune_served(database, retention_days=90) == 0
