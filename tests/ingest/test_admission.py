"""The bound on ingest requests in flight: past it, 429 with Retry-After."""

import asyncio

import pytest

from app.exceptions import TooManyRequests
from app.ingest.admission import InFlightLimit
from tests.batches import inbound_batch, product_event

pytestmark = pytest.mark.anyio


def test_slots_are_given_back_even_when_the_request_fails() -> None:
    limit = InFlightLimit(1, retry_after_seconds=2)
    with pytest.raises(RuntimeError), limit.slot():
        raise RuntimeError("storage went away")
    with limit.slot():
        assert limit.in_flight == 1
        with pytest.raises(TooManyRequests) as refused, limit.slot():
            pass
    assert refused.value.headers == {"Retry-After": "2"}
    assert limit.in_flight == 0


async def test_past_the_bound_senders_get_429_with_an_integer_retry_after(
    start_app, database
) -> None:
    app = await start_app(ingest_max_in_flight=1, ingest_retry_after_seconds=3)
    reading, release = asyncio.Event(), asyncio.Event()

    async def slow_body():
        yield b'{"events": [], "mpid": 1'
        # The app asks for more: it is reading the body, holding its slot.
        reading.set()
        await release.wait()
        yield b"}"

    held = asyncio.create_task(
        app.client.post(
            "/v2/events",
            content=slow_body(),
            headers={"content-type": "application/json"},
        )
    )
    await reading.wait()

    batch = inbound_batch(2, product_event("purchase", "A", outbound=False))
    refused = await app.client.post("/v2/events", json=batch)
    release.set()
    accepted = await held
    again = await app.client.post("/v2/events", json=batch)

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert refused.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert accepted.status_code == again.status_code == 202
    assert again.json()["interactions"] == 1
