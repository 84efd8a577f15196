"""The Personalize recommender: campaign lists, the embedded phase, SIMS."""

import pytest

from app.integrations.personalize.errors import PersonalizeUnavailable
from tests.batches import outbound_batch, product_event
from tests.fakes.personalize import CAMPAIGN_ARN, FILTER_ARN, SIMS_CAMPAIGN_ARN

pytestmark = pytest.mark.anyio

SESSION = "33333333-3333-4333-8333-333333333333"


async def test_recs_come_from_the_campaign_with_its_recommendation_id(
    start_app, personalize, personalize_settings
):
    personalize.lists["7"] = ["P-1", "P-2", "P-3", "P-4", "P-5", "P-6"]
    app = await start_app(
        **personalize_settings(
            personalize_campaign_arn=CAMPAIGN_ARN,
            personalize_filter_arn=FILTER_ARN,
            personalize_context={"DEVICE": "web"},
        )
    )
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(7, product_event("view_detail", "A"))
    )

    await app.run_jobs()
    body = (await app.client.get("/users/7/recs")).json()

    assert body["source"] == "personalize"
    assert [item["item_id"] for item in body["items"]] == [
        "P-1",
        "P-2",
        "P-3",
        "P-4",
        "P-5",
    ]
    [call] = personalize.accepted("/recommendations")
    assert body["recommendation_id"] == "RID-000001"
    assert call.body == {
        "campaignArn": CAMPAIGN_ARN,
        "userId": "7",
        "numResults": 5,
        "filterArn": FILTER_ARN,
        "context": {"DEVICE": "web"},
    }
    # The event reached Personalize before the list was asked for.
    first_events = personalize.requests.index(personalize.accepted("/events")[0])
    assert first_events < personalize.requests.index(call)


async def test_purchased_items_never_come_back_even_without_a_filter(
    start_app, personalize, personalize_settings
):
    personalize.lists["8"] = ["BOUGHT", "P-1", "P-2", "P-3", "P-4", "P-5", "P-6"]
    app = await start_app(**personalize_settings(personalize_campaign_arn=CAMPAIGN_ARN))
    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(8, product_event("purchase", "BOUGHT")),
    )

    await app.run_jobs()
    body = (await app.client.get("/users/8/recs")).json()

    assert [i["item_id"] for i in body["items"]] == ["P-1", "P-2", "P-3", "P-4", "P-5"]
    [call] = personalize.accepted("/recommendations")
    assert call.body["numResults"] == 6


async def test_before_a_campaign_events_flow_and_lists_are_embedded(
    start_app, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    batches = [
        outbound_batch(u, product_event("view_detail", "A", "B", "C", session=SESSION))
        for u in range(1, 5)
    ]
    await app.client.post("/webhooks/mparticle", json=batches)
    await app.retrain()

    await app.run_jobs()
    body = (await app.client.get("/users/1/recs")).json()

    assert body["source"] in {"embedded", "popular"}
    assert len(personalize.accepted_events) == 12
    assert personalize.accepted("/recommendations") == []


async def test_a_campaign_outage_fails_the_refresh_for_a_retry(
    start_app, database, personalize, personalize_settings
):
    personalize.default_list = ["P-1"]
    app = await start_app(**personalize_settings(personalize_campaign_arn=CAMPAIGN_ARN))
    recommender = app.runtime.recommender
    personalize.fail_next(3, 503, "ServiceUnavailable")

    with pytest.raises(PersonalizeUnavailable):
        await recommender.recommend(9, [], 5)
    listed = await recommender.recommend(9, [], 5)

    assert [item.item_id for item in listed.items] == ["P-1"]


async def test_similar_items_come_from_the_sims_campaign(
    start_app, personalize, personalize_settings
):
    personalize.lists["A"] = ["A", "B", "C", "D"]
    app = await start_app(
        **personalize_settings(personalize_sims_campaign_arn=SIMS_CAMPAIGN_ARN)
    )

    similar = await app.runtime.recommender.similar_items("A", 2)

    assert [item.item_id for item in similar] == ["B", "C"]
    [call] = personalize.accepted("/recommendations")
    assert call.body["campaignArn"] == SIMS_CAMPAIGN_ARN
    assert call.body["itemId"] == "A"


async def test_similar_items_fall_back_to_the_embedded_model(
    start_app, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    batches = [
        outbound_batch(u, product_event("view_detail", "A", "B")) for u in range(1, 4)
    ]
    await app.client.post("/webhooks/mparticle", json=batches)
    await app.retrain()

    similar = await app.runtime.recommender.similar_items("A", 2)

    assert [item.item_id for item in similar] == ["B"]
    assert personalize.accepted("/recommendations") == []
