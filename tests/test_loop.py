"""The whole loop on embedded defaults, as a newcomer would try it."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.models import Batch, Interaction
from tests.batches import inbound_batch, outbound_batch, product_event

pytestmark = pytest.mark.anyio

CATALOG = [f"SKU-{n}" for n in range(1, 13)]


async def _count(database, model) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_webhook_and_bulk_batches_give_each_user_five_recs_without_purchases(
    start_app, database
):
    app = await start_app()
    # A small store: shoppers browse overlapping products so items co-occur.
    history_batches = [
        outbound_batch(100 + u, product_event("view_detail", *CATALOG[u : u + 6]))
        for u in range(6)
    ]
    response = await app.client.post("/webhooks/mparticle", json=history_batches)
    assert response.status_code == 202
    assert response.json() == {"batches": 6, "interactions": 36, "duplicates": 0}

    bulk = [
        inbound_batch(7, product_event("purchase", "SKU-1", outbound=False)),
        inbound_batch(
            8, product_event("add_to_cart", "SKU-3", "SKU-4", outbound=False)
        ),
    ]
    response = await app.client.post("/v2/bulkevents", json=bulk)
    assert response.status_code == 202
    assert response.json() == {"batches": 2, "interactions": 3, "duplicates": 0}

    await app.retrain()
    await app.run_jobs()
    for mpid in (7, 8, 100, 103):
        body = (await app.client.get(f"/users/{mpid}/recs")).json()
        assert body["mpid"] == str(mpid)
        assert len(body["items"]) == 5
        assert body["source"] == "embedded"
    bought = (await app.client.get("/users/7/recs")).json()
    assert "SKU-1" not in [item["item_id"] for item in bought["items"]]


async def test_reposted_batches_change_no_count(start_app, database):
    app = await start_app()
    batches = [
        outbound_batch(1, product_event("view_detail", "A", "B")),
        outbound_batch(2),
    ]
    first = await app.client.post("/webhooks/mparticle", json=batches)
    again = await app.client.post("/webhooks/mparticle", json=batches)

    assert first.status_code == again.status_code == 202
    assert again.json() == {"batches": 0, "interactions": 0, "duplicates": 2}
    assert await _count(database, Batch) == 2
    assert await _count(database, Interaction) == 2


async def test_the_running_worker_refreshes_a_users_list_by_itself(
    start_app, database
) -> None:
    app = await start_app(worker_enabled=True, worker_poll_seconds=0.02)
    shoppers = [
        outbound_batch(200 + u, product_event("view_detail", *CATALOG[u : u + 6]))
        for u in range(6)
    ]
    await app.client.post("/webhooks/mparticle", json=shoppers)
    await app.retrain()
    # The retrain queued refreshes; wait for the worker to cache the list.
    for _ in range(500):
        before = (await app.client.get("/users/200/recs")).json()
        if before["source"] == "embedded":
            break
        await asyncio.sleep(0.01)
    assert before["source"] == "embedded"
    bought = [item["item_id"] for item in before["items"][:2]]

    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(200, product_event("purchase", *bought)),
    )

    # No job is run by hand: the in-process worker must pick the refresh up.
    for _ in range(500):
        after = (await app.client.get("/users/200/recs")).json()
        if after["recommendation_id"] != before["recommendation_id"]:
            break
        await asyncio.sleep(0.01)
    assert after["recommendation_id"] != before["recommendation_id"]
    assert not set(bought) & {item["item_id"] for item in after["items"]}
