"""A local server that speaks Personalize's data plane over a real socket.

`personalize-events` (PutEvents, `POST /events`) and `personalize-runtime`
(GetRecommendations, `POST /recommendations`) are REST-JSON: real boto3
clients reach it through the endpoint URL settings, so serialization,
SigV4 signing, error parsing and botocore's retries are the real ones. It
checks what the real service checks (lengths, counts, known tracker and
campaigns), records every request, and injects faults on demand: error
answers (ThrottlingException, 503, InvalidInputException) and an outage
during which connections are dropped without an answer.
"""

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes.server import FakeHandler, FakeServer

TRACKING_ID = "tracking-0123"
CAMPAIGN_ARN = "arn:aws:personalize:us-east-1:123456789012:campaign/recloop-campaign"
SIMS_CAMPAIGN_ARN = "arn:aws:personalize:us-east-1:123456789012:campaign/recloop-sims"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/recloop-no-purchased"
SIGNATURE_SCOPE = "/personalize/aws4_request"


class Rejection(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 200


@dataclass
class Fault:
    status: int
    code: str
    message: str = "injected"


@dataclass
class FakePersonalize(FakeServer):
    tracking_id: str = TRACKING_ID
    campaigns: dict[str, str] = field(
        default_factory=lambda: {CAMPAIGN_ARN: "user", SIMS_CAMPAIGN_ARN: "item"}
    )
    filters: set[str] = field(default_factory=lambda: {FILTER_ARN})
    # What GetRecommendations answers: per user (or item for SIMS), else default.
    lists: dict[str, list[str]] = field(default_factory=dict)
    default_list: list[str] = field(default_factory=list)
    # Items whose events the service refuses, as if it found them invalid.
    refused_items: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._failing: Fault | None = None
        self._outage_until = 0.0
        self._rids = itertools.count(1)
        self._serve(_handler(self))

    def fail_next(self, count: int, status: int, code: str) -> None:
        """Answer the next `count` requests with this error."""
        with self._lock:
            self._faults.extend(Fault(status, code) for _ in range(count))

    def fail_until_recovered(self, status: int, code: str) -> None:
        """Answer every request with this error until `recover()`."""
        with self._lock:
            self._failing = Fault(status, code)

    def recover(self) -> None:
        with self._lock:
            self._failing = None
            self._faults.clear()

    @property
    def failed_requests(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.status != 200)

    def outage(self, seconds: float) -> None:
        """Drop every connection without an answer for `seconds` from now."""
        self._outage_until = time.monotonic() + seconds

    @property
    def in_outage(self) -> bool:
        return time.monotonic() < self._outage_until

    def accepted(self, path: str = "/events") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.status == 200]

    @property
    def accepted_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(userId, sessionId, event) of every event in an accepted call."""
        return [
            (r.body["userId"], r.body["sessionId"], event)
            for r in self.accepted("/events")
            for event in r.body["eventList"]
        ]

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> Any:
        body = json.loads(raw or b"{}")
        request = Request(path, headers, body)
        with self._lock:
            self.requests.append(request)
            fault = self._faults.pop(0) if self._faults else self._failing
        try:
            _check_signature(headers)
            if fault is not None:
                raise Rejection(fault.status, fault.code, fault.message)
            if path == "/events":
                return self._put_events(body)
            if path == "/recommendations":
                return self._get_recommendations(body)
            raise Rejection(404, "UnknownOperationException", path)
        except Rejection as rejection:
            request.status = rejection.status
            raise

    def _put_events(self, body: dict[str, Any]) -> None:
        if body.get("trackingId") != self.tracking_id:
            raise Rejection(404, "ResourceNotFoundException", "tracker not found")
        _check_length("sessionId", body.get("sessionId"), 1, 256)
        _check_length("userId", body.get("userId"), 1, 256)
        events = body.get("eventList") or []
        if not 1 <= len(events) <= 10:
            raise _invalid(f"eventList has {len(events)} members; 1-10 allowed")
        for event in events:
            _check_event(event)
            if event.get("itemId") in self.refused_items:
                raise _invalid(f"item {event['itemId']} is not valid")
        return None

    def _get_recommendations(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = self.campaigns.get(body.get("campaignArn", ""))
        if kind is None:
            raise Rejection(404, "ResourceNotFoundException", "campaign not found")
        if "filterArn" in body and body["filterArn"] not in self.filters:
            raise _invalid("filter not found or not ACTIVE")
        count = body.get("numResults", 25)
        if not 1 <= count <= 500:
            raise _invalid(f"numResults {count} is outside 1-500")
        subject = body.get("userId") if kind == "user" else body.get("itemId")
        if not subject:
            raise _invalid(f"{'userId' if kind == 'user' else 'itemId'} is required")
        items = self.lists.get(subject, self.default_list)[:count]
        scores = [round(1.0 - i / (len(items) + 1), 4) for i in range(len(items))]
        return {
            "itemList": [
                {"itemId": item, "score": score}
                for item, score in zip(items, scores, strict=True)
            ],
            "recommendationId": f"RID-{next(self._rids):06d}",
        }


def _check_signature(headers: dict[str, str]) -> None:
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or (
        SIGNATURE_SCOPE not in authorization
    ):
        raise Rejection(403, "UnrecognizedClientException", "request is not signed")


def _check_event(event: dict[str, Any]) -> None:
    _check_length("eventType", event.get("eventType"), 1, 256)
    if not isinstance(event.get("sentAt"), int | float):
        raise _invalid("sentAt is required, as epoch seconds")
    for name in ("eventId", "itemId"):
        if name in event:
            _check_length(name, event[name], 1, 256)
    if "recommendationId" in event:
        _check_length("recommendationId", event["recommendationId"], 1, 40)
    if "impression" in event:
        impression = event["impression"]
        if not 1 <= len(impression) <= 25:
            raise _invalid(f"impression has {len(impression)} members; 1-25 allowed")
    if len(json.dumps(event)) > 10 * 1024:
        raise _invalid("event is over 10 KB")


def _check_length(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _invalid(f"{name} must be a string of {low}-{high} characters")


def _invalid(message: str) -> Rejection:
    return Rejection(400, "InvalidInputException", message)


def _handler(fake: FakePersonalize) -> type[FakeHandler]:
    class Handler(FakeHandler):
        def do_POST(self) -> None:
            raw = self.read_body()
            if fake.in_outage:
                # No answer at all, as when the service or the network is down.
                self.close_connection = True
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                result = fake.answer(self.path, headers, raw)
            except Rejection as rejection:
                payload = json.dumps({"message": rejection.message}).encode()
                self._send(rejection.status, payload, rejection.code)
                return
            self._send(200, b"" if result is None else json.dumps(result).encode())

        def _send(self, status: int, payload: bytes, error: str = "") -> None:
            headers = {"content-type": "application/json"}
            if error:
                headers["x-amzn-ErrorType"] = error
            self.reply(status, payload, headers)

    return Handler


def use_dummy_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard AWS chain, fed fake keys: nothing here can reach AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDRECLOOPTEST",
        "AWS_SECRET_ACCESS_KEY": "recloop-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def personalize(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePersonalize]:
    use_dummy_aws_credentials(monkeypatch)
    fake = FakePersonalize().start()
    yield fake
    fake.stop()


@pytest.fixture
def personalize_settings(
    personalize: FakePersonalize,
) -> Callable[..., dict[str, Any]]:
    """Settings overrides pointing recloop's Personalize clients at the fake."""

    def overrides(**extra: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "recommender": "personalize",
            "personalize_tracking_id": personalize.tracking_id,
            "personalize_events_endpoint_url": personalize.url,
            "personalize_runtime_endpoint_url": personalize.url,
            "personalize_region": "us-east-1",
            "personalize_connect_timeout_seconds": 1.0,
            "personalize_read_timeout_seconds": 2.0,
            "job_backoff_base_seconds": 0.05,
            "job_backoff_max_seconds": 0.5,
        }
        values.update(extra)
        return values

    return overrides
