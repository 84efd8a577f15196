"""Forwarding interactions to Personalize through the worker's refresh jobs."""

from collections import Counter

import pytest
from sqlalchemy import insert, update

from app.models import Interaction, Job
from app.models.base import utcnow
from app.worker import queue
from tests.batches import inbound_batch, outbound_batch, product_event
from tests.fakes.personalize import CAMPAIGN_ARN
from tests.integrations.personalize.conftest import (
    assert_calls_well_formed,
    interaction_keys,
    jobs,
    run_until_forwarded,
    run_while_failing,
    sent_event_ids,
    unforwarded,
)

pytestmark = pytest.mark.anyio

SESSION_A = "11111111-1111-4111-8111-111111111111"
SESSION_B = "22222222-2222-4222-8222-222222222222"


def _row(key: str, sku: str) -> dict:
    return {
        "key": key,
        "event_key": key,
        "mpid": 5,
        "item_id": sku,
        "event_type": "view_detail",
        "session_id": SESSION_A,
        "occurred_at_ms": 1_764_700_000_000,
        "received_at": utcnow(),
    }


def _shop(mpid: int, session: str | None, *skus: str) -> list[dict]:
    return [product_event("view_detail", sku, session=session) for sku in skus]


async def _ingest_store(app) -> None:
    batches = [
        # 14 views in one session (two calls) and 3 in another.
        outbound_batch(7, *_shop(7, SESSION_A, *[f"SKU-{n}" for n in range(14)])),
        outbound_batch(7, *_shop(7, SESSION_B, "SKU-20", "SKU-21", "SKU-22")),
        # One event with three products: three interactions.
        outbound_batch(8, product_event("purchase", "SKU-1", "SKU-2", "SKU-3")),
        # Server-to-server events without a session.
        inbound_batch(
            -9_000_000_000_000_000_001,
            product_event("add_to_cart", "SKU-5", outbound=False, session=None),
            product_event("add_to_cart", "SKU-6", outbound=False, session=None),
        ),
    ]
    response = await app.client.post("/webhooks/mparticle", json=batches[:3])
    assert response.status_code == 202
    response = await app.client.post("/v2/bulkevents", json=batches[3:])
    assert response.status_code == 202


async def test_every_interaction_arrives_once_in_calls_of_one_user_and_session(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    await _ingest_store(app)

    await run_until_forwarded(app, database)

    stored = await interaction_keys(database)
    assert len(stored) == 22
    ids = sent_event_ids(personalize)
    assert Counter(ids) == Counter(stored.keys())  # none lost, none sent twice
    assert_calls_well_formed(personalize)
    sizes = sorted(len(r.body["eventList"]) for r in personalize.accepted())
    assert sizes == [2, 3, 3, 4, 10]
    for user_id, session_id, event in personalize.accepted_events:
        row = stored[event["eventId"]]
        assert user_id == str(row.mpid)
        assert event["itemId"] == row.item_id
        assert event["eventType"] == row.event_type
        assert event["sentAt"] == pytest.approx(row.occurred_at_ms / 1000)
        assert "eventValue" not in event
        if row.session_id:
            assert session_id == row.session_id
        else:
            assert session_id.startswith(f"recloop-{row.mpid}-")


async def test_sessionless_user_gets_one_stable_session_per_day(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    day_ms = 86_400_000
    base = 1_764_720_000_000  # 2025-12-03 00:00 UTC
    events = [
        product_event("view_detail", sku, outbound=False, session=None, time_ms=t)
        for sku, t in (("A", base + 1000), ("B", base + 5000), ("C", base + day_ms))
    ]
    await app.client.post("/v2/events", json=inbound_batch(42, *events))

    await run_until_forwarded(app, database)

    sessions = {e["itemId"]: s for _, s, e in personalize.accepted_events}
    assert sessions == {
        "A": "recloop-42-2025-12-03",
        "B": "recloop-42-2025-12-03",
        "C": "recloop-42-2025-12-04",
    }


async def test_event_values_are_the_event_type_weights_when_enabled(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings(personalize_event_value=True))
    batch = outbound_batch(
        3, product_event("purchase", "A"), product_event("view_detail", "B")
    )
    await app.client.post("/webhooks/mparticle", json=batch)

    await run_until_forwarded(app, database)

    values = {e["itemId"]: e["eventValue"] for _, _, e in personalize.accepted_events}
    assert values == {"A": 4.0, "B": 1.0}


async def test_throttling_is_retried_and_nothing_is_lost_or_doubled(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    # Enough throttled answers to exhaust botocore's three attempts twice,
    # so the worker's own backoff has to step in as well.
    personalize.fail_next(7, 400, "ThrottlingException")
    await _ingest_store(app)

    await run_until_forwarded(app, database)

    stored = await interaction_keys(database)
    assert Counter(sent_event_ids(personalize)) == Counter(stored.keys())
    throttled = [r for r in personalize.requests if r.status == 400]
    assert len(throttled) == 7
    assert_calls_well_formed(personalize)


async def test_503_answers_are_retried(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    personalize.fail_next(4, 503, "ServiceUnavailable")
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(5, *_shop(5, SESSION_A, "X", "Y"))
    )

    await run_until_forwarded(app, database)

    assert sorted(e["itemId"] for _, _, e in personalize.accepted_events) == ["X", "Y"]


async def test_a_five_second_outage_loses_nothing(
    start_app, database, personalize, personalize_settings
):
    # The default attempts with a backoff of seconds, not the defaults'
    # minutes: enough to outlast the outage, as the defaults are in production.
    app = await start_app(
        **personalize_settings(job_backoff_base_seconds=1, job_backoff_max_seconds=2)
    )
    personalize.outage(5.0)
    await _ingest_store(app)
    await app.run_jobs()
    assert await unforwarded(database) == 22  # nothing got through yet

    await run_until_forwarded(app, database)

    stored = await interaction_keys(database)
    assert Counter(sent_event_ids(personalize)) == Counter(stored.keys())
    assert not await jobs(database, status="dead")


async def _only_refused_event_dead(database, personalize, item_id: str) -> Job:
    """Every interaction was sent once but the refused one, dead-lettered alone."""
    stored = await interaction_keys(database)
    bad_key = next(k for k, row in stored.items() if row.item_id == item_id)
    assert Counter(sent_event_ids(personalize)) == Counter(set(stored) - {bad_key})
    [dead] = await jobs(database, status="dead")
    assert (dead.kind, dead.key) == ("personalize_event", bad_key)
    assert "InvalidInputException" in dead.last_error
    assert f"item {item_id} is not valid" in dead.last_error
    return dead


async def _assert_deferred_without_attempts(database, error: str) -> None:
    refreshes = await jobs(database, kind="refresh")
    assert len(refreshes) == 3
    for job in refreshes:
        assert (job.status, job.attempts) == ("pending", 0)
        assert "Personalize unavailable" in job.last_error
        assert error in job.last_error
    assert await jobs(database, status="dead") == []


async def test_a_long_outage_spends_no_attempts_and_ends_with_all_delivered(
    start_app, database, personalize, personalize_settings
):
    # One attempt per job: a single failure that spent one would bury it.
    # One request per call, so each failed request is one deferred run.
    app = await start_app(
        **personalize_settings(
            job_max_attempts=1,
            personalize_max_attempts=1,
            personalize_campaign_arn=CAMPAIGN_ARN,
        )
    )
    personalize.default_list = ["P-1", "P-2"]
    personalize.refused_items.add("SKU-BAD")
    await _ingest_store(app)
    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(7, *_shop(7, SESSION_B, "SKU-BAD")),
    )

    # 15 failed runs are several deferrals of each of the three users' jobs.
    personalize.fail_until_recovered(503, "ServiceUnavailable")
    await run_while_failing(app, database, personalize, failed_requests=15)
    await _assert_deferred_without_attempts(database, "ServiceUnavailable")
    personalize.fail_until_recovered(400, "ThrottlingException")
    await run_while_failing(app, database, personalize, failed_requests=30)
    await _assert_deferred_without_attempts(database, "ThrottlingException")
    assert personalize.accepted() == []

    personalize.recover()
    await run_until_forwarded(app, database)

    await _only_refused_event_dead(database, personalize, "SKU-BAD")
    assert len(personalize.accepted("/recommendations")) == 3
    body = (await app.client.get("/users/8/recs")).json()
    assert (body["source"], body["items"][0]["item_id"]) == ("personalize", "P-1")


async def test_an_event_personalize_refuses_is_dead_lettered_alone(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings())
    personalize.refused_items.add("SKU-BAD")
    skus = [f"SKU-{n}" for n in range(4)] + ["SKU-BAD"] + [f"SKU-{n}" for n in range(5)]
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(11, *_shop(11, SESSION_A, *skus))
    )

    await run_until_forwarded(app, database)

    dead = await _only_refused_event_dead(database, personalize, "SKU-BAD")

    # Once the cause is fixed, replaying the dead job sends that event alone.
    personalize.refused_items.clear()
    async with database.write() as session:
        await session.execute(
            update(Job).where(Job.id == dead.id).values(status="pending")
        )
    await app.run_jobs()
    assert sent_event_ids(personalize).count(dead.key) == 1
    assert await jobs(database) == []


async def test_an_unknown_tracker_dead_letters_the_job_and_keeps_the_events(
    start_app, database, personalize, personalize_settings
):
    app = await start_app(**personalize_settings(personalize_tracking_id="wrong"))
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(5, *_shop(5, SESSION_A, "X"))
    )

    await app.run_jobs()

    [dead] = await jobs(database, status="dead")
    assert dead.kind == "refresh"
    assert "ResourceNotFoundException" in dead.last_error
    assert await unforwarded(database) == 1
    assert personalize.accepted() == []


async def test_an_interaction_committed_after_a_newer_one_is_still_sent(
    start_app, database, personalize, personalize_settings
):
    if not database.is_postgresql:
        pytest.skip("SQLite has one writer: transactions cannot commit out of order")
    app = await start_app(**personalize_settings())
    late = outbound_batch(5, *_shop(5, SESSION_A, "LATE"))
    # An ingest that took the lower id commits after a later one, as
    # concurrent transactions do; it queues its job at its very end.
    async with database.write() as session:
        await session.execute(insert(Interaction), [_row("early#0", "EARLY")])
        await app.client.post("/webhooks/mparticle", json=late)
        await app.run_jobs()
        assert [e["itemId"] for _, _, e in personalize.accepted_events] == ["LATE"]
        await queue.enqueue(session, "refresh", ["5"])

    await run_until_forwarded(app, database)

    items = sorted(e["itemId"] for _, _, e in personalize.accepted_events)
    assert items == ["EARLY", "LATE"]
