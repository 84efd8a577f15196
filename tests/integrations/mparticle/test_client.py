"""The Events API client against a local server speaking the Events API."""

import pytest
from pydantic import SecretStr

from app.integrations.mparticle.client import (
    EventsApiClient,
    WritebackRejected,
    WritebackThrottled,
    WritebackUnavailable,
)
from tests.fakes.mparticle import FakeEventsApi, Reply
from tests.server import free_port

pytestmark = pytest.mark.anyio


def _batch(mpid: int) -> dict:
    return {"environment": "development", "mpid": mpid}


def _client(base_url: str, secret: str = "mp-secret") -> EventsApiClient:
    return EventsApiClient(base_url, SecretStr("mp-key"), SecretStr(secret), 5.0)


async def test_one_batch_goes_to_events_several_to_bulkevents(events_api) -> None:
    client = _client(events_api.base_url)
    await client.send([_batch(1)])
    await client.send([_batch(2), _batch(3)])
    await client.close()

    assert [request.path for request in events_api.accepted] == [
        "/v2/events",
        "/v2/bulkevents",
    ]
    assert events_api.accepted_batches == [_batch(1), _batch(2), _batch(3)]
    assert events_api.accepted[0].headers["content-type"] == "application/json"


async def test_mpids_beyond_2_53_arrive_exactly(events_api) -> None:
    client = _client(events_api.base_url)
    await client.send([_batch(7_346_244_611_012_968_789)])
    await client.close()
    assert events_api.accepted_batches == [_batch(7_346_244_611_012_968_789)]


@pytest.mark.parametrize("status", [400, 401, 403, 413])
async def test_requests_that_cannot_succeed_are_rejected(events_api, status) -> None:
    events_api.script(
        Reply(status, body={"errors": [{"code": "BAD_REQUEST", "message": "nope"}]})
    )
    client = _client(events_api.base_url)
    with pytest.raises(WritebackRejected, match=f"{status}.*nope"):
        await client.send([_batch(1)])
    await client.close()


async def test_wrong_credentials_are_rejected_and_the_secret_is_not_in_the_error(
    events_api,
) -> None:
    client = _client(events_api.base_url, secret="s3cr3t-value")
    with pytest.raises(WritebackRejected) as raised:
        await client.send([_batch(1)])
    await client.close()
    assert "403" in str(raised.value)
    assert "s3cr3t-value" not in str(raised.value)


async def test_429_carries_the_retry_after_seconds(events_api) -> None:
    events_api.script(Reply(429, headers={"Retry-After": "7"}))
    client = _client(events_api.base_url)
    with pytest.raises(WritebackUnavailable) as raised:
        await client.send([_batch(1)])
    await client.close()
    assert raised.value.retry_after_seconds == 7


@pytest.mark.parametrize(
    "reply",
    [Reply(429), Reply(429, headers={"Retry-After": "soon"}), Reply(503), Reply(500)],
)
async def test_throttling_and_5xx_are_retryable_without_a_delay(events_api, reply):
    events_api.script(reply)
    client = _client(events_api.base_url)
    with pytest.raises(WritebackUnavailable) as raised:
        await client.send([_batch(1)])
    await client.close()
    assert raised.value.retry_after_seconds is None


async def test_an_unreachable_server_is_retryable() -> None:
    client = _client(f"http://127.0.0.1:{free_port()}/v2")
    with pytest.raises(WritebackUnavailable, match="unreachable"):
        await client.send([_batch(1)])
    await client.close()


async def test_success_is_any_status_from_200_to_205() -> None:
    with FakeEventsApi() as fake:
        fake.script(Reply(200), Reply(205))
        client = _client(fake.base_url)
        await client.send([_batch(1)])
        await client.send([_batch(2)])
        await client.close()
        assert len(fake.requests) == 2


async def test_429_is_throttling_and_success_reports_the_rate_used(events_api):
    events_api.script(Reply(429, headers={"Retry-After": "3"}))
    client = _client(events_api.base_url)
    with pytest.raises(WritebackThrottled) as raised:
        await client.send([_batch(1)])
    used = await client.send([_batch(1)])
    await client.close()
    assert raised.value.retry_after_seconds == 3
    assert used == 1


async def test_the_fake_refuses_batches_the_official_schema_refuses(events_api):
    client = _client(events_api.base_url)
    with pytest.raises(WritebackRejected, match="environment"):
        await client.send([{"mpid": 1}])
    await client.close()
    assert events_api.invalid
