"""The Personalize recommender: campaign lists, the embedded phase, SIMS."""

import pytest

from app.integrations.personalize.errors import PersonalizeUnavailable
from app.models import CachedRecommendation
from tests.batches import outbound_batch, product_event
from tests.fakes.personalize import CAMPAIGN_ARN, FILTER_ARN, SIMS_CAMPAIGN_ARN
from tests.integrations.personalize.conftest import (
    jobs,
    run_until_no_jobs,
    run_while_failing,
)

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


async def test_a_campaign_outage_defers_the_refresh_without_spending_attempts(
    start_app, database, personalize, personalize_settings
):
    personalize.default_list = ["P-1", "P-2"]
    # No tracker: the refresh only asks the campaign. One attempt per job, so
    # a failure that spent one would leave the job dead.
    app = await start_app(
        **personalize_settings(
            personalize_tracking_id=None,
            personalize_campaign_arn=CAMPAIGN_ARN,
            personalize_max_attempts=1,
            job_max_attempts=1,
        )
    )
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(7, product_event("view_detail", "A"))
    )
    personalize.fail_until_recovered(503, "ServiceUnavailable")

    await run_while_failing(app, database, personalize, failed_requests=4)

    [job] = await jobs(database)
    assert (job.kind, job.status, job.attempts) == ("refresh", "pending", 0)
    assert "get_recommendations: ServiceUnavailable" in job.last_error
    async with database.read() as session:
        assert await session.get(CachedRecommendation, 7) is None

    personalize.recover()
    await run_until_no_jobs(app, database)

    assert await jobs(database) == []
    body = (await app.client.get("/users/7/recs")).json()
    assert (body["source"], [i["item_id"] for i in body["items"]]) == (
        "personalize",
        ["P-1", "P-2"],
    )


async def test_requests_that_need_an_unavailable_personalize_get_a_503(
    start_app, personalize, personalize_settings
):
    app = await start_app(
        **personalize_settings(
            personalize_campaign_arn=CAMPAIGN_ARN,
            personalize_sims_campaign_arn=SIMS_CAMPAIGN_ARN,
            personalize_max_attempts=1,
        )
    )
    # Stored but not refreshed yet: the list is computed on this request.
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(7, product_event("view_detail", "A"))
    )
    personalize.fail_until_recovered(400, "ThrottlingException")

    for path in ("/users/7/recs", "/items/A/similar"):
        response = await app.client.get(path)

        assert response.status_code == 503, path
        assert int(response.headers["retry-after"]) >= 1
        [error] = response.json()["errors"]
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert "Personalize unavailable" in error["message"]
        assert "ThrottlingException" in error["message"]


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
