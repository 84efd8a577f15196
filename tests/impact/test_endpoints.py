"""Impact end to end: lists generated, later events credited, rates reported."""

import time

import pytest
from sqlalchemy import select

from app.models import Interaction, ServedRecommendation
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _trained_app(start_app, **settings):
    app = await start_app(**settings)
    history = [
        outbound_batch(
            500 + u,
            *(
                product_event(
                    "view_detail", sku, time_ms=1_700_000_000_000 + u * 10 + i
                )
                for i, sku in enumerate(["A", "B", "C", "D"])
            ),
        )
        for u in range(10)
    ]
    assert (
        await app.client.post("/webhooks/mparticle", json=history)
    ).status_code == 202
    await app.retrain()
    await app.run_jobs()
    return app


async def _list_for(app, mpid: int, n: int = 5) -> dict:
    batch = outbound_batch(mpid, product_event("view_detail", "A", time_ms=_now_ms()))
    await app.client.post("/webhooks/mparticle", json=[batch])
    await app.run_jobs()
    return (await app.client.get(f"/users/{mpid}/recs", params={"n": n})).json()


async def _credited(database, mpid: int) -> dict[str, str | None]:
    async with database.read() as session:
        rows = await session.execute(
            select(
                Interaction.event_type,
                Interaction.item_id,
                Interaction.recommendation_id,
            ).where(Interaction.mpid == mpid)
        )
        return {f"{kind}:{item}": rid for kind, item, rid in rows.all()}


async def test_views_carts_and_purchases_of_listed_items_are_credited(
    start_app, database
):
    app = await _trained_app(start_app)
    listing = await _list_for(app, 7)
    await _list_for(app, 8)
    recommended = listing["items"][0]["item_id"]
    later = _now_ms() + 1000
    events = [
        product_event("view_detail", recommended, time_ms=later),
        product_event("add_to_cart", recommended, time_ms=later + 1),
        product_event("purchase", recommended, time_ms=later + 2),
    ]
    await app.client.post("/webhooks/mparticle", json=[outbound_batch(7, *events)])

    credited = await _credited(database, 7)
    rid = listing["recommendation_id"]
    assert credited[f"view_detail:{recommended}"] == rid
    assert credited[f"add_to_cart:{recommended}"] == rid
    assert credited[f"purchase:{recommended}"] == rid
    # The view that came before the list was generated is not its outcome.
    assert credited["view_detail:A"] is None

    stats = (await app.client.get("/stats/recs", params={"days": 7})).json()
    assert stats["attribution_window_seconds"] == 86_400
    (embedded,) = [s for s in stats["by_source"] if s["source"] == "embedded"]
    lists = embedded["lists"]
    assert lists >= 2
    assert embedded["clicked"] == embedded["carted"] == embedded["purchased"] == 1
    assert embedded["click_through_rate"] == pytest.approx(1 / lists, abs=1e-6)
    assert embedded["purchase_rate"] == pytest.approx(1 / lists, abs=1e-6)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert [d["day"] for d in stats["by_day"] if d["source"] == "embedded"] == [today]


async def test_an_id_the_app_passed_is_kept_and_unlisted_items_are_not_credited(
    start_app, database
):
    app = await _trained_app(start_app, recs_count=2)
    listing = await _list_for(app, 9, n=2)
    listed = {item["item_id"] for item in listing["items"]}
    unlisted = next(sku for sku in ["A", "B", "C", "D"] if sku not in listed)
    tagged = product_event("add_to_cart", next(iter(listed)), time_ms=_now_ms() + 1000)
    tagged["data"]["product_action"]["products"][0]["custom_attributes"] = {
        "recommendation_id": "from-the-app"
    }
    plain = product_event("add_to_cart", unlisted, time_ms=_now_ms() + 1000)
    await app.client.post(
        "/webhooks/mparticle", json=[outbound_batch(9, tagged, plain)]
    )

    credited = await _credited(database, 9)
    assert credited[f"add_to_cart:{next(iter(listed))}"] == "from-the-app"
    assert credited[f"add_to_cart:{unlisted}"] is None


async def test_events_after_the_window_are_not_credited(start_app, database):
    app = await _trained_app(start_app, attribution_window_seconds=60)
    listing = await _list_for(app, 11)
    recommended = listing["items"][0]["item_id"]
    late = product_event("view_detail", recommended, time_ms=_now_ms() + 120_000)
    await app.client.post("/webhooks/mparticle", json=[outbound_batch(11, late)])
    assert (await _credited(database, 11))[f"view_detail:{recommended}"] is None


async def test_generated_lists_are_recorded_once_and_cached_reads_write_nothing(
    start_app, database
):
    app = await _trained_app(start_app)
    listing = await _list_for(app, 12)
    for _ in range(3):
        again = (await app.client.get("/users/12/recs")).json()
        assert again["recommendation_id"] == listing["recommendation_id"]
    async with database.read() as session:
        rows = (
            await session.scalars(
                select(ServedRecommendation).where(ServedRecommendation.mpid == 12)
            )
        ).all()
    assert [row.recommendation_id for row in rows][-1] == listing["recommendation_id"]
    assert len({row.recommendation_id for row in rows}) == len(rows)
    assert rows[-1].item_ids == [item["item_id"] for item in listing["items"]]


async def test_days_out_of_range_are_refused(start_app):
    app = await start_app()
    response = await app.client.get("/stats/recs", params={"days": 0})
    assert response.status_code == 422
    empty = (await app.client.get("/stats/recs")).json()
    assert empty["by_source"] == empty["by_day"] == []
