"""What was shown goes with each event: impressions and recommendation ids."""

import uuid

import pytest

from tests.batches import outbound_batch, product_event
from tests.fakes.personalize import CAMPAIGN_ARN
from tests.integrations.personalize.conftest import run_until_forwarded

pytestmark = pytest.mark.anyio

SESSION = "44444444-4444-4444-8444-444444444444"
OTHER_SESSION = "55555555-5555-4555-8555-555555555555"


def impressions(*skus: str, session: str = SESSION, time_ms: int) -> dict:
    return {
        "event_type": "commerce_event",
        "data": {
            "message_id": str(uuid.uuid4()),
            "timestamp_unixtime_ms": time_ms,
            "session_uuid": session,
            "product_impressions": [
                {
                    "product_impression_list": "Home",
                    "products": [{"id": sku} for sku in skus],
                }
            ],
        },
    }


def picked(sku: str, recommendation_id: str, time_ms: int) -> dict:
    event = product_event("view_detail", sku, session=SESSION, time_ms=time_ms)
    product = event["data"]["product_action"]["products"][0]
    product["custom_attributes"] = {"recommendation_id": recommendation_id}
    return event


def sent(fake) -> dict[str, dict]:
    return {event["itemId"]: event for _, _, event in fake.accepted_events}


async def test_a_list_shown_in_the_session_goes_as_impression_within_25_items(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    shown = [f"S-{n:02d}" for n in range(30)]
    batch = outbound_batch(
        3,
        impressions(*shown, time_ms=1_764_700_001_000),
        product_event(
            "view_detail", "S-27", session=SESSION, time_ms=1_764_700_002_000
        ),
        product_event(
            "view_detail", "S-01", session=SESSION, time_ms=1_764_700_003_000
        ),
        # Shown in the session, but only after this view: not an impression.
        product_event(
            "view_detail", "S-02", session=SESSION, time_ms=1_764_700_000_500
        ),
        # Another session never saw the list.
        product_event("view_detail", "S-03", session=OTHER_SESSION),
    )
    await app.client.post("/webhooks/mparticle", json=batch)

    await run_until_forwarded(app, database)

    events = sent(personalize)
    assert events["S-27"]["impression"] == shown[3:28]
    assert events["S-01"]["impression"] == shown[:25]
    assert "impression" not in events["S-02"]
    assert "impression" not in events["S-03"]


async def test_a_pick_from_a_personalize_list_sends_its_recommendation_id(
    start_app, database, personalize, personalize_settings
):
    personalize.lists["7"] = ["P-1", "P-2", "P-3"]
    app = await start_app(**personalize_settings(personalize_campaign_arn=CAMPAIGN_ARN))
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(7, product_event("view_detail", "A"))
    )
    await run_until_forwarded(app, database)
    served = (await app.client.get("/users/7/recs")).json()

    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(
            7, picked("P-2", served["recommendation_id"], 1_764_800_000_000)
        ),
    )
    await run_until_forwarded(app, database)

    event = sent(personalize)["P-2"]
    assert event["recommendationId"] == served["recommendation_id"] == "RID-000001"
    assert "impression" not in event


async def test_a_pick_from_an_embedded_list_sends_that_list_as_impression(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    # Others viewed what user 1 did and more: that more is user 1's list.
    history = [outbound_batch(1, product_event("view_detail", "A", "B"))] + [
        outbound_batch(u, product_event("view_detail", "A", "B", "C", "D"))
        for u in range(2, 5)
    ]
    await app.client.post("/webhooks/mparticle", json=history)
    await app.retrain()
    await run_until_forwarded(app, database)
    served = (await app.client.get("/users/1/recs")).json()
    shown = [item["item_id"] for item in served["items"]]
    assert shown

    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(
            1,
            picked(shown[0], served["recommendation_id"], 1_764_800_000_000),
            # An id recloop made that is not the user's list: nothing to say.
            picked("Z", str(uuid.uuid4()), 1_764_800_001_000),
        ),
    )
    await run_until_forwarded(app, database)

    events = sent(personalize)
    assert events[shown[0]]["impression"] == shown
    assert "recommendationId" not in events[shown[0]]
    assert "impression" not in events["Z"]
    assert "recommendationId" not in events["Z"]
