"""The recs cache: computed once on a miss, refreshed when events arrive."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.models import CachedRecommendation, Job
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio

CATALOG = [f"SKU-{n}" for n in range(12)]


async def _app_with_history(start_app):
    app = await start_app()
    batches = [
        outbound_batch(100 + u, product_event("view_detail", *CATALOG[u : u + 6]))
        for u in range(6)
    ]
    await app.client.post("/webhooks/mparticle", json=batches)
    await app.retrain()
    return app


async def _cached_rows(database) -> int:
    async with database.read() as session:
        return await session.scalar(
            select(func.count()).select_from(CachedRecommendation)
        )


async def test_a_miss_is_computed_once_and_cached(start_app, database) -> None:
    app = await _app_with_history(start_app)
    recs = app.runtime.recs

    lists = await asyncio.gather(*(recs.for_user(100, 5) for _ in range(5)))

    assert len({served.recommendation_id for served in lists}) == 1
    assert await _cached_rows(database) == 1
    again = await recs.for_user(100, 5)
    assert again.recommendation_id == lists[0].recommendation_id


async def test_refresh_reports_whether_the_list_changed(start_app, database) -> None:
    app = await _app_with_history(start_app)
    recs = app.runtime.recs

    assert await recs.refresh(100) is True
    assert await recs.refresh(100) is False
    first = await recs.for_user(100, 5)
    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(100, product_event("purchase", first.items[0].item_id)),
    )
    assert await recs.refresh(100) is True
    assert first.items[0].item_id not in [
        i.item_id for i in (await recs.for_user(100, 5)).items
    ]


async def test_refresh_queues_write_back_only_when_it_is_on(start_app, database):
    app = await _app_with_history(start_app)
    await app.runtime.recs.refresh(100)
    async with database.read() as session:
        kinds = set((await session.scalars(select(Job.kind))).all())
    assert "sync" not in kinds


async def test_unknown_users_are_not_cached(start_app, database) -> None:
    app = await _app_with_history(start_app)
    served = await app.runtime.recs.for_user(424242, 5)
    assert served.source == "popular"
    assert await _cached_rows(database) == 0
