"""Raw batch retention: a queued job deletes raw batches past their time."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.models import Batch, Erasure, Interaction, Job
from app.models.base import utcnow
from app.privacy import retention
from app.worker import queue
from app.worker.kinds import RETENTION
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio


async def _age_batches(database, mpids, days: float) -> None:
    async with database.write() as session:
        await session.execute(
            update(Batch)
            .where(Batch.mpid.in_(mpids))
            .values(received_at=utcnow() - timedelta(days=days))
        )


async def _batch_mpids(database) -> set[int]:
    async with database.read() as session:
        return set((await session.scalars(select(Batch.mpid))).all())


async def test_batches_older_than_the_retention_are_deleted(start_app, database):
    app = await start_app(raw_batch_retention_days=30)
    batches = [outbound_batch(m, product_event("view_detail", "A")) for m in (1, 2, 3)]
    await app.client.post("/webhooks/mparticle", json=batches)
    await _age_batches(database, [1, 2], days=31)
    async with database.write() as session:
        await queue.enqueue(session, RETENTION, [retention.RETENTION_KEY])

    assert await app.run_jobs() >= 1

    assert await _batch_mpids(database) == {3}
    async with database.read() as session:
        # Interactions stay for the recommender; only the raw copy goes.
        kept = await session.execute(select(Interaction.mpid, Interaction.batch_id))
        rows = kept.all()
    assert sorted(mpid for mpid, _ in rows) == [1, 2, 3]
    assert sorted((mpid, batch_id is None) for mpid, batch_id in rows) == [
        (1, True),
        (2, True),
        (3, False),
    ]


async def test_deletion_goes_in_chunks_until_nothing_is_left(
    start_app, database, monkeypatch
) -> None:
    monkeypatch.setattr(retention, "DELETE_CHUNK_ROWS", 2)
    app = await start_app()
    await app.client.post(
        "/webhooks/mparticle", json=[outbound_batch(m) for m in range(7)]
    )
    await _age_batches(database, range(7), days=365)
    handler = retention.RetentionHandler(database, app.runtime.settings)
    async with database.write() as session:
        await queue.enqueue(session, RETENTION, [retention.RETENTION_KEY])
    async with database.write() as session:
        jobs = await queue.claim(session, "w", 1, 60)

    assert await handler(jobs) == {jobs[0].id: None}
    assert await _batch_mpids(database) == set()


async def test_old_anonymous_erasures_go_but_the_newest_stays(start_app, database):
    app = await start_app()
    long_ago = utcnow() - timedelta(days=400)
    async with database.write() as session:
        for mpid in (None, None, 9, None):
            session.add(
                Erasure(mpid=mpid, erased_at=long_ago, personalize_pending=bool(mpid))
            )
    async with database.write() as session:
        await queue.enqueue(session, RETENTION, [retention.RETENTION_KEY])
    await app.run_jobs()
    async with database.read() as session:
        left = (await session.execute(select(Erasure.id, Erasure.mpid))).all()
    # The Personalize to-do stays, and so does the newest row: the watermark.
    assert sorted(left) == [(3, 9), (4, None)]


async def test_zero_days_deletes_nothing_even_when_the_job_runs(start_app, database):
    app = await start_app(raw_batch_retention_days=0)
    await app.client.post("/webhooks/mparticle", json=outbound_batch(1))
    await _age_batches(database, [1], days=9999)
    async with database.write() as session:
        await queue.enqueue(session, RETENTION, [retention.RETENTION_KEY])
    await app.run_jobs()
    assert await _batch_mpids(database) == {1}


async def test_every_worker_schedules_it_and_they_add_up_to_one_job(
    database, make_settings
) -> None:
    settings = make_settings(retention_interval_seconds=0.01)
    stopping = asyncio.Event()
    schedulers = [
        asyncio.create_task(retention.schedule_retention(database, settings, stopping))
        for _ in range(3)
    ]
    await asyncio.sleep(0.2)
    stopping.set()
    await asyncio.gather(*schedulers)
    async with database.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == RETENTION)
        )
    assert count == 1


async def test_zero_days_keeps_raw_batches_for_ever(database, make_settings):
    settings = make_settings(raw_batch_retention_days=0)
    await asyncio.wait_for(
        retention.schedule_retention(database, settings, asyncio.Event()), 1
    )
    async with database.read() as session:
        assert (await session.scalars(select(Job))).all() == []
