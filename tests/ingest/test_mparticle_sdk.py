"""mParticle's own Python SDK, unchanged, posting to `recloop serve` on a real
port: single and bulk uploads land as interactions, and recloop's answers
mean to the SDK what mParticle's would."""

import asyncio
import base64
import gzip
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import mparticle
import pytest
from mparticle.rest import ApiException, RESTClientObject
from sqlalchemy import select

from app.db import Database
from app.models import Batch, Impression, Interaction
from tests.batches import outbound_batch, product_event
from tests.conftest import INGEST_AUTH
from tests.server import ServerProcess

pytestmark = pytest.mark.anyio

FIREHOSE_KEY = "firehose-test-access-key"


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    # One server for the module; the `database` fixture empties the tables
    # before each test.
    env = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": INGEST_AUTH[0],
        "RECLOOP_INGEST_SECRET": INGEST_AUTH[1],
        "RECLOOP_FIREHOSE_ACCESS_KEY": FIREHOSE_KEY,
        "RECLOOP_INGEST_MAX_IN_FLIGHT": "1",
    }
    log_path = tmp_path_factory.mktemp("sdk") / "serve.log"
    with ServerProcess(env, log_path, "--no-worker") as process:
        yield process


@pytest.fixture(autouse=True)
def _sdk_state() -> Iterator[None]:
    # The SDK keeps a Retry-After deadline for the whole process.
    yield
    RESTClientObject.retry_after_timestamp = 0
    RESTClientObject.latest_response = None


def _events_api(server: ServerProcess, secret: str = INGEST_AUTH[1]):
    config = mparticle.Configuration()
    config.api_key = INGEST_AUTH[0]
    config.api_secret = secret
    # The host is copied when the API object is made: set it first.
    config.host = f"{server.base_url}/v2"
    return mparticle.EventsApi(config)


def _sdk_batch(mpid: int, *events) -> mparticle.Batch:
    batch = mparticle.Batch()
    batch.environment = "development"
    batch.mpid = mpid
    batch.user_identities = mparticle.UserIdentities(customerid=f"c-{mpid}")
    batch.events = list(events)
    return batch


def _purchase(transaction_id: str, *skus: str) -> mparticle.CommerceEvent:
    action = mparticle.ProductAction("purchase")
    action.transaction_id = transaction_id
    action.products = [mparticle.Product(id=sku, price=9.5, quantity=1) for sku in skus]
    event = mparticle.CommerceEvent(product_action=action)
    event.timestamp_unixtime_ms = 1_764_700_000_000
    return event


def _impression(*skus: str) -> mparticle.CommerceEvent:
    shown = mparticle.ProductImpression(
        "home", [mparticle.Product(id=sku) for sku in skus]
    )
    return mparticle.CommerceEvent(product_impressions=[shown])


async def _rows(database: Database, model, mpid: int) -> list:
    async with database.read() as session:
        return list(await session.scalars(select(model).where(model.mpid == mpid)))


async def test_single_and_bulk_uploads_land_as_interactions(server, database) -> None:
    api = _events_api(server)
    single = _sdk_batch(
        7_346_244_611_012_968_789,
        _purchase("T-1", "SKU-1", "SKU-2"),
        _impression("SKU-3", "SKU-4"),
        mparticle.ScreenViewEvent(screen_name="Home"),
        mparticle.SessionStartEvent(),
    )
    bulk = [_sdk_batch(11, _purchase("T-2", "SKU-5")), _sdk_batch(12, _impression("A"))]

    await asyncio.to_thread(api.upload_events, single)
    await asyncio.to_thread(api.bulk_upload_events, bulk)
    # Uploading again stores nothing more, and the SDK sees success again.
    await asyncio.to_thread(api.upload_events, single)

    bought = await _rows(database, Interaction, 7_346_244_611_012_968_789)
    assert sorted((r.item_id, r.event_type) for r in bought) == [
        ("SKU-1", "purchase"),
        ("SKU-2", "purchase"),
    ]
    assert {r.transaction_id for r in bought} == {"T-1"}
    shown = await _rows(database, Impression, 7_346_244_611_012_968_789)
    assert sorted(r.item_id for r in shown) == ["SKU-3", "SKU-4"]
    assert [r.item_id for r in await _rows(database, Interaction, 11)] == ["SKU-5"]
    assert [r.item_id for r in await _rows(database, Impression, 12)] == ["A"]
    [stored] = await _rows(database, Batch, 7_346_244_611_012_968_789)
    assert json.loads(stored.payload)["user_identities"] == {
        "customerid": "c-7346244611012968789"
    }


async def test_every_event_type_the_sdk_builds_is_accepted(server, database) -> None:
    events = [
        mparticle.AppEvent(event_name="opened", custom_event_type="navigation"),
        mparticle.ApplicationStateTransitionEvent(),
        mparticle.BreadcrumbEvent(),
        mparticle.CrashReportEvent(),
        mparticle.FirstRunEvent(),
        mparticle.NetworkPerformanceEvent(),
        mparticle.OptOutEvent(),
        mparticle.ProfileEvent(),
        mparticle.PushMessageEvent(),
        mparticle.PushRegistrationEvent(),
        mparticle.ScreenViewEvent(screen_name="Cart"),
        mparticle.SessionEndEvent(),
        mparticle.SessionStartEvent(),
        _purchase("T-3", "SKU-9"),
    ]
    await asyncio.to_thread(_events_api(server).upload_events, _sdk_batch(21, *events))

    [stored] = await _rows(database, Batch, 21)
    assert stored.event_count == len(events)
    assert [r.item_id for r in await _rows(database, Interaction, 21)] == ["SKU-9"]


async def test_an_empty_bulk_upload_is_accepted(server, database) -> None:
    # The SDK sends no body at all for an empty list.
    await asyncio.to_thread(_events_api(server).bulk_upload_events, [])


async def test_wrong_credentials_are_403_to_the_sdk(server, database) -> None:
    api = _events_api(server, secret="wrong")
    with pytest.raises(ApiException) as raised:
        await asyncio.to_thread(api.upload_events, _sdk_batch(31, _purchase("T", "A")))
    assert raised.value.status == 403
    assert await _rows(database, Batch, 31) == []


async def test_a_busy_recloop_answers_429_with_an_integer_retry_after(
    server, database
) -> None:
    api = _events_api(server)
    batch = _sdk_batch(41, _purchase("T-41", "SKU-41"))
    held = _hold_a_slot(server)
    try:
        with pytest.raises(ApiException) as throttled:
            await asyncio.to_thread(api.upload_events, batch)
        # The SDK parsed Retry-After as an integer and now waits it out for
        # the whole process, without sending.
        with pytest.raises(ApiException) as waiting:
            await asyncio.to_thread(api.upload_events, batch)
    finally:
        _release(held)

    assert throttled.value.status == waiting.value.status == 429
    assert throttled.value.headers["Retry-After"] == "1"
    assert json.loads(throttled.value.body)["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert await _rows(database, Interaction, 41) == []
    await asyncio.sleep(1.1)
    await asyncio.to_thread(api.upload_events, batch)
    assert [r.item_id for r in await _rows(database, Interaction, 41)] == ["SKU-41"]


@dataclass
class HeldRequest:
    connection: socket.socket
    body_rest: bytes


def _hold_a_slot(server: ServerProcess) -> HeldRequest:
    """An ingest request whose body is still coming: it holds the one slot."""
    body = json.dumps({"events": []}).encode()
    token = base64.b64encode(":".join(INGEST_AUTH).encode()).decode()
    held = socket.create_connection(("127.0.0.1", server.port))
    held.sendall(
        b"POST /v2/events HTTP/1.1\r\nHost: recloop\r\n"
        + f"Authorization: Basic {token}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:1]
    )
    # The request is in flight once the server answers others 429.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = httpx.post(
            f"{server.base_url}/v2/events",
            content=b" ",
            auth=INGEST_AUTH,
            headers={"content-type": "application/json"},
        )
        if probe.status_code == 429:
            return HeldRequest(held, body[1:])
        time.sleep(0.02)
    raise AssertionError("the held request never took its slot")


def _release(held: HeldRequest) -> None:
    held.connection.sendall(held.body_rest)
    status_line = held.connection.recv(4096).split(b"\r\n")[0]
    held.connection.close()
    assert b"202" in status_line


async def test_a_firehose_delivery_lands_the_same(server, database) -> None:
    batches = [
        outbound_batch(51, product_event("purchase", "SKU-51", "SKU-52")),
        outbound_batch(52, product_event("add_to_cart", "SKU-53")),
    ]
    delivery = {
        "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
        "timestamp": 1_764_790_001_599,
        "records": [
            {"data": base64.b64encode(json.dumps(batch).encode()).decode()}
            for batch in batches
        ],
    }
    headers = {
        "content-type": "application/json",
        "content-encoding": "gzip",
        "x-amz-firehose-request-id": delivery["requestId"],
        "x-amz-firehose-access-key": FIREHOSE_KEY,
        "x-amz-firehose-protocol-version": "1.0",
    }
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            "/firehose/mparticle",
            content=gzip.compress(json.dumps(delivery).encode()),
            headers=headers,
        )

    assert response.status_code == 200
    assert response.json()["requestId"] == delivery["requestId"]
    assert isinstance(response.json()["timestamp"], int)
    bought = await _rows(database, Interaction, 51)
    assert sorted(r.item_id for r in bought) == ["SKU-51", "SKU-52"]
    assert [r.event_type for r in await _rows(database, Interaction, 52)] == [
        "add_to_cart"
    ]
