"""The client factory: explicit retries and timeouts, errors by what they mean."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from prometheus_client import REGISTRY

from app.integrations.personalize.clients import (
    CONTROL,
    EVENTS,
    RUNTIME,
    build_async_client,
    build_client,
)
from app.integrations.personalize.errors import (
    PersonalizeRejected,
    PersonalizeUnavailable,
)
from app.worker.errors import DownstreamUnavailable
from tests.fakes.personalize import TRACKING_ID, use_dummy_aws_credentials

pytestmark = pytest.mark.anyio

EVENT = {"eventType": "view_detail", "itemId": "A", "sentAt": 1_764_700_000}
CALL = {
    "trackingId": TRACKING_ID,
    "userId": "1",
    "sessionId": "s",
    "eventList": [EVENT],
}


@pytest.fixture
def settings(make_settings, personalize_settings):
    return make_settings(**personalize_settings(personalize_max_attempts=3))


def test_clients_get_the_standard_retry_mode_timeouts_and_region(make_settings):
    settings = make_settings(
        personalize_region="eu-west-1",
        personalize_max_attempts=4,
        personalize_connect_timeout_seconds=1.5,
        personalize_read_timeout_seconds=3.0,
    )

    config = build_client(settings, RUNTIME).meta.config

    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (1.5, 3.0)
    assert config.region_name == "eu-west-1"


async def test_a_throttled_call_is_tried_three_times_then_reported(
    settings, personalize
):
    client = build_async_client(settings, EVENTS)
    personalize.fail_next(3, 400, "ThrottlingException")

    with pytest.raises(PersonalizeUnavailable, match="put_events: ThrottlingException"):
        await client.call("put_events", **CALL)

    assert [r.status for r in personalize.requests] == [400, 400, 400]
    client.close()


async def test_an_outage_is_a_downstream_outage_with_a_pause_and_a_503(
    settings, personalize
):
    client = build_async_client(settings, EVENTS)
    personalize.fail_until_recovered(503, "ServiceUnavailable")

    with pytest.raises(PersonalizeUnavailable) as info:
        await client.call("put_events", **CALL)

    error = info.value
    assert isinstance(error, DownstreamUnavailable)
    assert error.target == "personalize"
    # The first failure in a row: between half the backoff base and all of it.
    assert 0.025 <= error.delay_seconds <= 0.05
    assert (error.status_code, error.headers) == (503, {"Retry-After": "1"})
    client.close()


async def test_a_throttled_call_that_recovers_succeeds_within_its_attempts(
    settings, personalize
):
    client = build_async_client(settings, EVENTS)
    personalize.fail_next(2, 400, "ThrottlingException")

    await client.call("put_events", **CALL)

    assert [r.status for r in personalize.requests] == [400, 400, 200]
    client.close()


async def test_invalid_input_is_not_retried_and_is_permanent(settings, personalize):
    client = build_async_client(settings, EVENTS)

    with pytest.raises(PersonalizeRejected, match="eventList has 11 members") as info:
        await client.call("put_events", **{**CALL, "eventList": [EVENT] * 11})

    assert info.value.error_code == "InvalidInputException"
    assert len(personalize.requests) == 1
    client.close()


async def test_requests_are_signed_for_personalize(settings, personalize):
    client = build_async_client(settings, EVENTS)

    await client.call("put_events", **CALL)

    authorization = personalize.requests[0].headers["authorization"]
    assert "AKIDRECLOOPTEST/" in authorization
    assert "/us-east-1/personalize/aws4_request" in authorization
    client.close()


async def test_missing_credentials_name_the_aws_chain(
    settings, personalize, monkeypatch
):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    client = build_async_client(settings, EVENTS)

    with pytest.raises(PersonalizeRejected, match="standard AWS credential chain"):
        await client.call("put_events", **CALL)
    client.close()


async def test_parameters_botocore_refuses_are_permanent(settings, personalize):
    client = build_async_client(settings, EVENTS)

    with pytest.raises(PersonalizeRejected, match="eventList") as info:
        await client.call("put_events", **{**CALL, "eventList": []})

    assert info.value.error_code == "ParamValidationError"
    assert personalize.requests == []
    client.close()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _calls(operation: str) -> float:
    return _sample(
        "recloop_external_call_duration_seconds_count",
        target="personalize",
        operation=operation,
    )


def _errors(operation: str, error: str) -> float:
    return _sample(
        "recloop_external_call_errors_total",
        target="personalize",
        operation=operation,
        error=error,
    )


async def test_data_plane_calls_are_timed_and_failures_counted(settings, personalize):
    client = build_async_client(settings, EVENTS)
    before = _calls("put_events"), _errors("put_events", "ThrottlingException")

    await client.call("put_events", **CALL)
    personalize.fail_next(3, 400, "ThrottlingException")
    with pytest.raises(PersonalizeUnavailable):
        await client.call("put_events", **CALL)

    after = _calls("put_events"), _errors("put_events", "ThrottlingException")
    # One call each, however many requests botocore's retries made.
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    client.close()


def test_control_plane_calls_are_timed_and_failures_counted(
    make_settings, control_plane
):
    settings = make_settings(
        personalize_endpoint_url=control_plane.url, personalize_region="us-east-1"
    )
    client = build_client(settings, CONTROL)
    missing = "arn:aws:personalize:us-east-1:123456789012:dataset-group/missing"
    before = (
        _calls("list_dataset_groups"),
        _calls("describe_dataset_group"),
        _errors("describe_dataset_group", "ResourceNotFoundException"),
    )

    client.list_dataset_groups()
    with pytest.raises(ClientError):
        client.describe_dataset_group(datasetGroupArn=missing)

    after = (
        _calls("list_dataset_groups"),
        _calls("describe_dataset_group"),
        _errors("describe_dataset_group", "ResourceNotFoundException"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


def test_calls_that_get_no_answer_are_counted_by_their_exception(
    make_settings, monkeypatch
):
    use_dummy_aws_credentials(monkeypatch)
    settings = make_settings(
        personalize_endpoint_url="http://127.0.0.1:9",
        personalize_region="us-east-1",
        personalize_max_attempts=1,
    )
    client = build_client(settings, CONTROL)
    before = _errors("list_dataset_groups", "EndpointConnectionError")

    with pytest.raises(EndpointConnectionError):
        client.list_dataset_groups()

    assert _errors("list_dataset_groups", "EndpointConnectionError") - before == 1
