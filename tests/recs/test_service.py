"""The recs cache: computed once on a miss, refreshed when events arrive."""

import asyncio

import pytest
from sqlalchemy import event, func, select

from app.models import CachedRecommendation, Job
from app.recs.service import RecsService
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


async def test_refreshing_many_users_reads_once_and_commits_once(start_app, database):
    app = await _app_with_history(start_app)
    commits: list[int] = []

    def count(_connection) -> None:
        commits.append(1)

    event.listen(database.engine.sync_engine, "commit", count)
    try:
        outcomes = await app.runtime.recs.refresh_many(list(range(100, 106)))
    finally:
        event.remove(database.engine.sync_engine, "commit", count)

    assert outcomes == dict.fromkeys(range(100, 106), True)
    # One read transaction for the histories, one write for the lists.
    assert len(commits) <= 2
    assert await _cached_rows(database) == 6


class FailingFor:
    """The app's recommender, except that it fails for one user."""

    def __init__(self, recommender, mpid: int) -> None:
        self._recommender = recommender
        self._mpid = mpid

    def __getattr__(self, name):
        return getattr(self._recommender, name)

    async def recommend(self, mpid, history, n):
        if mpid == self._mpid:
            raise ConnectionError("recommender unreachable")
        return await self._recommender.recommend(mpid, history, n)


async def test_one_users_failure_leaves_the_others_refreshed(start_app, database):
    app = await _app_with_history(start_app)
    recs = RecsService(
        database, FailingFor(app.runtime.recommender, 102), app.runtime.recs._settings
    )

    outcomes = await recs.refresh_many([101, 102, 103])

    assert outcomes[101] is True
    assert outcomes[103] is True
    assert isinstance(outcomes[102], ConnectionError)
    assert await _cached_rows(database) == 2
