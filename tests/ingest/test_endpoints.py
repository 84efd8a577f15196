"""The ingest routes over HTTP: shapes, credentials, bad input, idempotency."""

import json

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Batch, Impression, Interaction, Job
from tests.batches import inbound_batch, outbound_batch, product_event, screen_view

pytestmark = pytest.mark.anyio

ROUTES = ["/webhooks/mparticle", "/v2/events", "/v2/bulkevents"]


async def _counts(database) -> dict[str, int]:
    async with database.read() as session:
        return {
            model.__tablename__: await session.scalar(
                select(func.count()).select_from(model)
            )
            for model in (Batch, Interaction, Impression, Job)
        }


NOTHING = {"batches": 0, "interactions": 0, "impressions": 0, "jobs": 0}


def _body_for(route: str, batch: dict) -> object:
    return [batch] if route == "/v2/bulkevents" else batch


async def test_webhook_takes_one_batch_or_an_array(start_app, database) -> None:
    app = await start_app()
    one = outbound_batch(1, product_event("view_detail", "A"))
    many = [outbound_batch(2, product_event("purchase", "B", "C")), outbound_batch(3)]

    first = await app.client.post("/webhooks/mparticle", json=one)
    second = await app.client.post("/webhooks/mparticle", json=many)

    assert first.status_code == second.status_code == 202
    assert first.json() == {"batches": 1, "interactions": 1, "duplicates": 0}
    assert second.json() == {"batches": 2, "interactions": 2, "duplicates": 0}


async def test_events_api_routes_take_the_inbound_shape(start_app, database) -> None:
    app = await start_app()
    event = product_event("add_to_wishlist", "A", outbound=False)

    single = await app.client.post("/v2/events", json=inbound_batch(1, event))
    bulk = await app.client.post(
        "/v2/bulkevents",
        json=[inbound_batch(m, product_event("view_detail", "B")) for m in (2, 3)],
    )

    assert single.status_code == bulk.status_code == 202
    assert single.json()["interactions"] == 1
    assert bulk.json() == {"batches": 2, "interactions": 2, "duplicates": 0}


async def test_events_route_wants_an_object_and_bulk_an_array(start_app, database):
    app = await start_app()
    batch = inbound_batch(1)

    array = await app.client.post("/v2/events", json=[batch])
    obj = await app.client.post("/v2/bulkevents", json=batch)

    assert array.status_code == obj.status_code == 400
    assert "/v2/bulkevents" in array.json()["errors"][0]["message"]
    assert "array" in obj.json()["errors"][0]["message"]


@pytest.mark.parametrize("route", ROUTES)
async def test_missing_credentials_get_401_and_wrong_ones_403(
    start_app, database, route
) -> None:
    app = await start_app()
    body = _body_for(route, inbound_batch(1, product_event("purchase", "A")))

    app.client.auth = None
    missing = await app.client.post(route, json=body)
    wrong = await app.client.post(route, json=body, auth=("test-ingest-key", "nope"))
    bearer = await app.client.post(
        route, json=body, headers={"Authorization": "Bearer abc"}
    )
    garbage = await app.client.post(
        route, json=body, headers={"Authorization": "Basic %%%"}
    )

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert missing.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert wrong.status_code == bearer.status_code == garbage.status_code == 403
    assert await _counts(database) == NOTHING


async def test_ingest_is_open_without_configured_credentials(start_app, database):
    app = await start_app(ingest_key=None, ingest_secret=None)
    app.client.auth = None
    response = await app.client.post("/v2/events", json=inbound_batch(1))
    assert response.status_code == 202


@pytest.mark.parametrize("route", ROUTES)
async def test_malformed_json_is_400_in_mparticles_error_shape(
    start_app, database, route
) -> None:
    app = await start_app()
    response = await app.client.post(
        route, content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "BAD_REQUEST"
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize("route", ROUTES)
async def test_an_empty_body_is_a_connection_check_answered_202(
    start_app, database, route
) -> None:
    app = await start_app()
    response = await app.client.post(
        route, content=b" ", headers={"content-type": "application/json"}
    )
    assert response.status_code == 202
    assert response.json() == {"batches": 0, "interactions": 0, "duplicates": 0}
    assert await _counts(database) == NOTHING


@pytest.mark.parametrize("missing", ["event_type", "data"])
async def test_event_without_type_or_data_is_400_naming_it(
    start_app, database, missing
) -> None:
    app = await start_app()
    event = product_event("purchase", "A")
    del event[missing]
    batches = [
        outbound_batch(1, product_event("view_detail", "B")),
        outbound_batch(2, event),
    ]

    response = await app.client.post("/webhooks/mparticle", json=batches)

    assert response.status_code == 400
    assert f'"[1].events[0].{missing}"' in response.json()["errors"][0]["message"]
    assert await _counts(database) == NOTHING


@pytest.mark.parametrize("route", ROUTES)
async def test_body_over_256_kb_is_413(start_app, database, route) -> None:
    app = await start_app()
    batch = outbound_batch(1, product_event("view_detail", "A"))
    batch["user_attributes"] = {"padding": "x" * (256 * 1024)}

    response = await app.client.post(route, json=_body_for(route, batch))

    assert response.status_code == 413
    assert "262144 bytes" in response.json()["errors"][0]["message"]
    assert await _counts(database) == NOTHING


async def test_body_over_the_limit_is_refused_while_streaming(start_app, database):
    app = await start_app()
    sent = 0

    async def endless():
        nonlocal sent
        yield b'{"events": [], "padding": "'
        while True:
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    # No Content-Length: the limit must hold while the body is read.
    response = await app.client.post(
        "/v2/events", content=endless(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert sent <= 320 * 1024


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)
async def test_content_type_other_than_json_is_415(
    start_app, database, content_type
) -> None:
    app = await start_app()
    headers = {"content-type": content_type} if content_type else {}
    response = await app.client.post(
        "/v2/events", content=json.dumps(inbound_batch(1)), headers=headers
    )
    assert response.status_code == 415
    assert await _counts(database) == NOTHING


async def test_json_content_type_with_charset_is_accepted(start_app, database):
    app = await start_app()
    response = await app.client.post(
        "/v2/events",
        content=json.dumps(inbound_batch(1)),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize("route", ["/webhooks/mparticle", "/v2/bulkevents"])
async def test_more_than_100_batches_is_400(start_app, database, route) -> None:
    app = await start_app()
    response = await app.client.post(route, json=[inbound_batch(m) for m in range(101)])
    assert response.status_code == 400
    assert "101 batches" in response.json()["errors"][0]["message"]
    assert await _counts(database) == NOTHING


@pytest.mark.parametrize("route", ROUTES)
async def test_mpid_out_of_range_is_422_naming_it(start_app, database, route):
    app = await start_app()
    batch = inbound_batch(2**63, product_event("purchase", "A"))

    response = await app.client.post(route, json=_body_for(route, batch))

    assert response.status_code == 422
    assert "mpid" in response.json()["errors"][0]["message"]
    assert await _counts(database) == NOTHING


async def test_deeply_nested_json_is_refused_cheaply(start_app, database) -> None:
    app = await start_app()
    body = b'{"events": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await app.client.post(
        "/v2/events", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "recursion limit" in response.json()["errors"][0]["message"]


async def test_nan_and_infinity_are_not_json(start_app, database) -> None:
    app = await start_app()
    response = await app.client.post(
        "/v2/events",
        content=b'{"events": [], "mpid": 1, "x": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_a_repeated_batch_is_stored_once_and_answered_202(start_app, database):
    app = await start_app()
    batch = outbound_batch(1, product_event("view_detail", "A", "B"))

    first = await app.client.post("/webhooks/mparticle", json=batch)
    again = await app.client.post("/webhooks/mparticle", json=batch)
    counts = await _counts(database)

    assert first.status_code == again.status_code == 202
    assert again.json() == {"batches": 0, "interactions": 0, "duplicates": 1}
    assert (counts["batches"], counts["interactions"]) == (1, 2)


async def test_a_repeated_event_in_a_new_batch_is_counted_once(start_app, database):
    app = await start_app()
    event = product_event("purchase", "A")

    await app.client.post("/webhooks/mparticle", json=outbound_batch(1, event))
    again = await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(1, event, product_event("view_detail", "B")),
    )

    assert again.json() == {"batches": 1, "interactions": 1, "duplicates": 1}
    assert (await _counts(database))["interactions"] == 2


async def test_a_batch_repeated_within_one_bulk_request_is_stored_once(
    start_app, database
) -> None:
    app = await start_app()
    batch = inbound_batch(1, product_event("view_detail", "A", outbound=False))
    response = await app.client.post("/v2/bulkevents", json=[batch, batch])
    assert response.json() == {"batches": 1, "interactions": 1, "duplicates": 1}


async def test_a_burst_of_one_users_events_is_one_refresh_job(start_app, database):
    app = await start_app()
    for sku in "ABCDE":
        await app.client.post(
            "/v2/events", json=inbound_batch(7, product_event("view_detail", sku))
        )
    async with database.read() as session:
        jobs = (await session.execute(select(Job.kind, Job.key))).all()
    assert jobs == [("refresh", "7")]


async def test_batches_with_only_other_events_are_stored_and_queue_nothing(
    start_app, database
) -> None:
    app = await start_app()
    response = await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(1, screen_view())
    )
    assert response.json() == {"batches": 1, "interactions": 0, "duplicates": 0}
    assert (await _counts(database))["jobs"] == 0


async def test_empty_batches_and_empty_arrays_are_accepted(start_app, database):
    app = await start_app()
    empty_batch = await app.client.post("/webhooks/mparticle", json=outbound_batch(1))
    empty_array = await app.client.post("/v2/bulkevents", json=[])
    assert empty_batch.status_code == empty_array.status_code == 202
    assert empty_array.json() == {"batches": 0, "interactions": 0, "duplicates": 0}


async def test_impressions_are_stored_with_the_batch(start_app, database) -> None:
    app = await start_app()
    event = {
        "event_type": "commerce_event",
        "data": {
            "message_id": "imp-1",
            "product_impressions": [
                {
                    "product_impression_list": "home",
                    "products": [{"id": "A"}, {"id": "B"}],
                }
            ],
        },
    }
    await app.client.post("/webhooks/mparticle", json=outbound_batch(1, event))
    again = await app.client.post("/webhooks/mparticle", json=outbound_batch(1, event))
    assert (await _counts(database))["impressions"] == 2
    assert again.json()["duplicates"] == 1


async def test_the_raw_batch_is_kept_with_exact_integers(start_app, database):
    app = await start_app()
    batch = outbound_batch(7_346_244_611_012_968_789, screen_view())
    await app.client.post("/webhooks/mparticle", json=batch)
    async with database.read() as session:
        payload = await session.scalar(select(Batch.payload))
    assert json.loads(payload) == batch


async def test_no_input_is_a_500_even_with_strange_values(start_app, database):
    app = await start_app()
    strange = [
        {"events": None, "mpid": None},
        {
            "events": [
                {"event_type": "commerce_event", "data": {"product_action": None}}
            ]
        },
        {
            "mpid": 1,
            "events": [
                {
                    "event_type": "commerce_event",
                    "data": {
                        "product_action": {"action": "purchase", "products": None}
                    },
                }
            ],
        },
        {
            "mpid": 1,
            "user_identities": None,
            "user_attributes": {"a": [1, {"b": None}]},
        },
    ]
    for batch in strange:
        response = await app.client.post("/v2/events", json=batch)
        assert response.status_code == 202, response.text
    huge_number = await app.client.post(
        "/v2/events",
        content=b'{"mpid": 1, "events": [], "x": 1e400}',
        headers={"content-type": "application/json"},
    )
    assert huge_number.status_code == 202


async def test_a_client_that_disconnects_leaves_nothing_half_stored(
    start_app, database
) -> None:
    app = await start_app()

    async def cut_short():
        yield b'{"events": [{"event_type": "commerce_event", "data": '
        raise httpx.ReadError("client went away")

    with pytest.raises(httpx.ReadError):
        await app.client.post(
            "/v2/events",
            content=cut_short(),
            headers={"content-type": "application/json"},
        )
    assert await _counts(database) == NOTHING
