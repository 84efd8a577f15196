"""Refresh and write-back jobs, through the app, against a local Events API."""

import pytest
from sqlalchemy import select

from app.models import CachedRecommendation, Job
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio

CATALOG = [f"SKU-{n}" for n in range(12)]


async def _writeback_app(start_app, events_api, **settings):
    return await start_app(
        mparticle_api_key="mp-key",
        mparticle_api_secret="mp-secret",
        mparticle_base_url=events_api.base_url,
        job_backoff_base_seconds=0.001,
        job_backoff_max_seconds=0.002,
        **settings,
    )


async def _shop(app, mpids=range(6)) -> None:
    batches = [
        outbound_batch(100 + u, product_event("view_detail", *CATALOG[u : u + 6]))
        for u in mpids
    ]
    assert (
        await app.client.post("/webhooks/mparticle", json=batches)
    ).status_code == 202
    await app.retrain()


async def _jobs(database):
    async with database.read() as session:
        return (await session.execute(select(Job.kind, Job.key, Job.status))).all()


async def test_changed_lists_are_written_back_once_per_change(
    start_app, database, events_api, inbound_schema
) -> None:
    app = await _writeback_app(start_app, events_api)
    await _shop(app)
    await app.run_jobs()

    batches = events_api.accepted_batches
    assert sorted(batch["mpid"] for batch in batches) == list(range(100, 106))
    for batch in batches:
        inbound_schema.validate(batch)
    async with database.read() as session:
        cached = {
            row.mpid: row for row in await session.scalars(select(CachedRecommendation))
        }
    for batch in batches:
        expected = [item["item_id"] for item in cached[batch["mpid"]].items]
        assert batch["user_attributes"]["product_recs"] == expected
        attributes = batch["events"][0]["data"]["custom_attributes"]
        assert (
            attributes["recommendation_id"] == cached[batch["mpid"]].recommendation_id
        )

    # Refreshing again gives the same lists: nothing more goes out.
    for mpid in range(100, 106):
        await app.runtime.recs.refresh(mpid)
    await app.run_jobs()
    assert len(events_api.accepted_batches) == 6


async def test_several_users_go_out_in_one_bulk_request(
    start_app, database, events_api
) -> None:
    app = await _writeback_app(start_app, events_api)
    await _shop(app)
    await app.run_jobs()
    assert any(request.path == "/v2/bulkevents" for request in events_api.accepted)
    assert len(events_api.accepted) < 6


async def test_write_back_is_off_without_credentials(start_app, database, events_api):
    app = await start_app(mparticle_base_url=events_api.base_url)
    await _shop(app)
    await app.run_jobs()
    assert events_api.requests == []
    assert [job for job in await _jobs(database) if job.kind == "sync"] == []
