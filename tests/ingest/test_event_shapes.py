"""Every event shape mParticle sends: all documented event types, removals
and refunds as interactions, replayed transactions counted once."""

import json

import pytest
from sqlalchemy import select

from app.models import Batch, Interaction, Job
from tests.batches import inbound_batch, outbound_batch, product_event

pytestmark = pytest.mark.anyio

# The JSON reference's event types, and those the official schema adds.
DOCUMENTED = [
    "custom_event",
    "commerce_event",
    "session_start",
    "session_end",
    "screen_view",
    "uninstall",
    "crash_report",
    "opt_out",
    "push_registration",
    "application_state_transition",
    "push_message",
    "network_performance",
    "breadcrumb",
]
SCHEMA_ADDS = [
    "first_run",
    "pre_attribution",
    "profile",
    "push_reaction",
    "user_attribute_change",
    "user_identity_change",
]
DATA = {
    "custom_event": {"event_name": "Search", "custom_event_type": "search"},
    "commerce_event": {"product_action": {"action": "checkout", "products": []}},
    "screen_view": {"screen_name": "Home"},
    "crash_report": {"message": "boom", "breadcrumbs": ["a"]},
    "application_state_transition": {
        "application_transition_type": "application_background",
        "is_first_run": False,
        "is_upgrade": False,
    },
    "push_message": {"push_message_token": "t", "push_message_type": "received"},
    "network_performance": {"http_verb": "GET", "url": "https://x", "time_elapsed": 5},
    "user_attribute_change": {"user_attribute_name": "tier", "new": "gold"},
    "user_identity_change": {"new": {"identity_type": "email", "identity": "a@b.c"}},
}


def _event(event_type: str, n: int) -> dict:
    data = {"timestamp_unixtime_ms": 1_764_700_000_000 + n, **DATA.get(event_type, {})}
    return {"event_type": event_type, "data": data}


@pytest.mark.parametrize("route", ["/webhooks/mparticle", "/v2/events"])
async def test_every_documented_event_type_is_accepted_and_kept(
    start_app, database, route
) -> None:
    app = await start_app()
    events = [_event(t, n) for n, t in enumerate(DOCUMENTED + SCHEMA_ADDS)]
    events.append(product_event("purchase", "SKU-1", outbound=route != "/v2/events"))
    batch = (outbound_batch if route != "/v2/events" else inbound_batch)(5, *events)

    response = await app.client.post(route, json=batch)

    assert response.status_code == 202
    assert response.json()["interactions"] == 1
    async with database.read() as session:
        stored = await session.scalar(select(Batch))
    assert stored.event_count == len(events)
    kept = [event["event_type"] for event in json.loads(stored.payload)["events"]]
    assert kept == [*DOCUMENTED, *SCHEMA_ADDS, "commerce_event"]


async def test_removals_and_refunds_are_stored_as_interactions(start_app, database):
    app = await start_app()
    batch = outbound_batch(
        5,
        product_event("add_to_cart", "A", "B"),
        product_event("remove_from_cart", "A"),
        product_event("add_to_wishlist", "C"),
        product_event("remove_from_wish_list", "C"),
        product_event("refund", "B"),
    )

    response = await app.client.post("/webhooks/mparticle", json=batch)

    assert response.json()["interactions"] == 6
    async with database.read() as session:
        rows = (await session.execute(select(Interaction.event_type))).scalars()
        assert sorted(rows) == [
            "add_to_cart",
            "add_to_cart",
            "add_to_wishlist",
            "refund",
            "remove_from_cart",
            "remove_from_wish_list",
        ]
        assert await session.scalar(select(Job.key)) == "5"


def _transaction(action: str, transaction_id: str, *skus: str) -> dict:
    event = product_event(action, *skus)
    event["data"]["product_action"]["transaction_id"] = transaction_id
    return event


async def _interactions(database) -> list[tuple[str, str, str | None]]:
    async with database.read() as session:
        result = await session.execute(
            select(
                Interaction.event_type, Interaction.item_id, Interaction.transaction_id
            ).order_by(Interaction.event_type, Interaction.item_id)
        )
        return [tuple(row) for row in result.all()]


async def test_a_replayed_purchase_or_refund_counts_once(start_app, database):
    app = await start_app()
    purchase = _transaction("purchase", "T-1", "A", "B")
    refund = _transaction("refund", "T-1", "B")
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(5, purchase, refund)
    )

    # The same transaction again under new message ids (a replay), with a
    # refund of another item and another user's transaction of the same id.
    replay = await app.client.post(
        "/webhooks/mparticle",
        json=[
            outbound_batch(
                5,
                _transaction("purchase", "T-1", "A", "B"),
                _transaction("refund", "T-1", "B"),
                _transaction("refund", "T-1", "A"),
            ),
            outbound_batch(6, _transaction("purchase", "T-1", "A")),
        ],
    )

    assert replay.json() == {"batches": 2, "interactions": 2, "duplicates": 2}
    assert await _interactions(database) == [
        ("purchase", "A", "T-1"),
        ("purchase", "A", "T-1"),
        ("purchase", "B", "T-1"),
        ("refund", "A", "T-1"),
        ("refund", "B", "T-1"),
    ]


async def test_a_refund_of_a_whole_transaction_refunds_each_item(
    start_app, database
) -> None:
    app = await start_app()
    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(5, _transaction("purchase", "T-9", "A", "B")),
    )

    # mParticle lets a full refund name only the transaction.
    response = await app.client.post(
        "/v2/events", json=inbound_batch(5, _transaction("refund", "T-9"))
    )

    assert response.json()["interactions"] == 2
    assert [r for r in await _interactions(database) if r[0] == "refund"] == [
        ("refund", "A", "T-9"),
        ("refund", "B", "T-9"),
    ]


async def test_a_whole_refund_sent_with_its_purchase_finds_it(start_app, database):
    app = await start_app()
    response = await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(
            5, _transaction("purchase", "T-3", "A"), _transaction("refund", "T-3")
        ),
    )
    assert response.json()["interactions"] == 2


async def test_a_whole_refund_of_an_unknown_transaction_is_kept_raw(
    start_app, database
) -> None:
    app = await start_app()
    response = await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(5, _transaction("refund", "T-404"))
    )
    assert response.json() == {"batches": 1, "interactions": 0, "duplicates": 0}


@pytest.mark.parametrize(
    "identities",
    [
        {"customerid": "c-5", "email": "a@b.c"},
        {"customer_id": "c-5", "other_id_2": "x"},
        [{"identity_type": "customer_id", "identity": "c-5"}],
        [],
    ],
)
async def test_user_identities_in_either_form_are_accepted(
    start_app, database, identities
) -> None:
    app = await start_app()
    batch = inbound_batch(5, product_event("view_detail", "A", outbound=False))
    batch["user_identities"] = identities
    response = await app.client.post("/v2/events", json=batch)
    assert response.status_code == 202
    assert response.json()["interactions"] == 1


@pytest.mark.parametrize(
    "ping",
    [{}, {"events": []}, {"environment": "production", "events": [], "mpid": 5}],
)
async def test_empty_batches_and_pings_are_answered_202(start_app, database, ping):
    app = await start_app()
    for route in ("/webhooks/mparticle", "/v2/events"):
        response = await app.client.post(route, json=ping)
        assert response.status_code == 202
        assert response.json()["interactions"] == 0
