"""POST /firehose/mparticle: Amazon Kinesis Data Firehose HTTP endpoint
delivery, answered as Firehose expects (200 only on success, its body shape),
with the webhook's idempotency and all-or-nothing storage."""

import base64
import gzip
import json
import uuid

import pytest
from sqlalchemy import func, select

from app.models import Batch, Interaction
from tests.batches import outbound_batch, product_event, screen_view

pytestmark = pytest.mark.anyio

KEY = "firehose-access-key-1"


def _record(content) -> dict:
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    return {"data": base64.b64encode(raw).decode()}


def _delivery(*records) -> dict:
    return {
        "requestId": str(uuid.uuid4()),
        "timestamp": 1_764_790_001_599,
        "records": list(records),
    }


async def _post(app, delivery, key: str | None = KEY, gzipped: bool = False, **kw):
    body = json.dumps(delivery).encode()
    headers = {
        "content-type": "application/json",
        "x-amz-firehose-request-id": delivery.get("requestId", "header-id"),
        "x-amz-firehose-protocol-version": "1.0",
    }
    if key is not None:
        headers["x-amz-firehose-access-key"] = key
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return await app.client.post(
        "/firehose/mparticle", content=body, headers=headers, auth=None, **kw
    )


async def _counts(database) -> tuple[int, int]:
    async with database.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(Batch)),
            await session.scalar(select(func.count()).select_from(Interaction)),
        )


async def test_a_delivery_stores_each_record_and_answers_200(start_app, database):
    app = await start_app(firehose_access_key=KEY)
    delivery = _delivery(
        _record(outbound_batch(1, product_event("purchase", "A", "B"))),
        _record(outbound_batch(2, product_event("view_detail", "C"), screen_view())),
        {"data": ""},
    )

    response = await _post(app, delivery)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "content-encoding" not in response.headers
    body = response.json()
    assert set(body) == {"requestId", "timestamp"}
    assert body["requestId"] == delivery["requestId"]
    assert await _counts(database) == (2, 3)


async def test_a_retried_delivery_stores_nothing_twice(start_app, database):
    app = await start_app(firehose_access_key=KEY)
    delivery = _delivery(_record(outbound_batch(1, product_event("purchase", "A"))))

    first = await _post(app, delivery)
    again = await _post(app, delivery, gzipped=True)

    assert first.status_code == again.status_code == 200
    assert await _counts(database) == (1, 1)


async def test_a_record_may_hold_an_array_of_batches(start_app, database):
    app = await start_app(firehose_access_key=KEY)
    batches = [outbound_batch(m, product_event("add_to_cart", "A")) for m in (1, 2)]
    response = await _post(app, _delivery(_record(batches)))
    assert response.status_code == 200
    assert await _counts(database) == (2, 2)


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [(None, 401, "missing"), ("wrong", 403, "invalid")],
)
async def test_the_access_key_is_required(start_app, database, key, status, message):
    app = await start_app(firehose_access_key=KEY)
    delivery = _delivery(_record(outbound_batch(1, product_event("purchase", "A"))))

    response = await _post(app, delivery, key=key)

    assert response.status_code == status
    assert response.json()["requestId"] == delivery["requestId"]
    assert message in response.json()["errorMessage"]
    assert await _counts(database) == (0, 0)


@pytest.mark.parametrize("configured", [None, ""])
async def test_firehose_is_off_until_its_key_is_set(start_app, database, configured):
    app = await start_app(firehose_access_key=configured)
    response = await _post(app, _delivery(_record(outbound_batch(1))), key="")
    assert response.status_code == 404
    assert "RECLOOP_FIREHOSE_ACCESS_KEY" in response.json()["errorMessage"]
    assert await _counts(database) == (0, 0)


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ({"data": "not base64!"}, '"records[1].data": is not valid Base64'),
        (_record(b"{not json"), '"records[1].data": is not a JSON batch'),
        (_record([1]), "records[1][0]: a batch must be a JSON object"),
        (
            _record(outbound_batch(1, {"event_type": "commerce_event"})),
            '"records[1].events[0].data" is missing',
        ),
    ],
)
async def test_a_bad_record_refuses_the_delivery_naming_it(
    start_app, database, record, named
) -> None:
    app = await start_app(firehose_access_key=KEY)
    good = _record(outbound_batch(9, product_event("purchase", "A")))

    response = await _post(app, _delivery(good, record))

    assert response.status_code == 400
    assert named in response.json()["errorMessage"]
    assert await _counts(database) == (0, 0)


async def test_a_delivery_without_records_is_400(start_app, database):
    app = await start_app(firehose_access_key=KEY)
    response = await _post(app, {"requestId": "r-1"})
    assert response.status_code == 400
    assert '"records"' in response.json()["errorMessage"]
    assert response.json()["requestId"] == "r-1"


async def test_deliveries_far_over_256_kb_are_taken(start_app, database):
    app = await start_app(firehose_access_key=KEY)
    records = [
        _record(outbound_batch(m, product_event("view_detail", f"SKU-{m}")))
        for m in range(1, 800)
    ]
    delivery = _delivery(*records)
    assert len(json.dumps(delivery)) > 1024 * 1024

    response = await _post(app, delivery)

    assert response.status_code == 200
    assert await _counts(database) == (799, 799)


async def test_a_body_over_the_firehose_limit_is_413(start_app, database):
    app = await start_app(firehose_access_key=KEY, firehose_max_body_bytes=256 * 1024)
    batch = outbound_batch(1, product_event("view_detail", "A"))
    batch["user_attributes"] = {"padding": "x" * (300 * 1024)}

    response = await _post(app, _delivery(_record(batch)))

    assert response.status_code == 413
    assert "262144 bytes" in response.json()["errorMessage"]


async def test_a_gzip_bomb_is_refused_after_the_limit(start_app, database):
    app = await start_app(firehose_access_key=KEY, firehose_max_body_bytes=256 * 1024)
    bomb = gzip.compress(
        b'{"requestId": "r", "records": [], "x": "' + b"0" * 50_000_000
    )
    assert len(bomb) < 100_000

    response = await app.client.post(
        "/firehose/mparticle",
        content=bomb,
        headers={
            "content-type": "application/json",
            "content-encoding": "gzip",
            "x-amz-firehose-access-key": KEY,
        },
    )
    assert response.status_code == 413
