"""Packing write-back batches into requests within mParticle's limits."""

import json

from app.integrations.mparticle.packing import MAX_REQUEST_BYTES, pack_requests


def _batch(size: int) -> dict:
    return {"mpid": 1, "padding": "x" * size}


def _bytes(request) -> int:
    return len(json.dumps([batch for _, batch in request], separators=(",", ":")))


def test_at_most_100_batches_a_request_in_order() -> None:
    batches = [(n, _batch(10)) for n in range(250)]
    requests = list(pack_requests(batches))
    assert [len(request) for request in requests] == [100, 100, 50]
    assert [key for request in requests for key, _ in request] == list(range(250))


def test_requests_stay_under_256_kb() -> None:
    batches = [(n, _batch(20_000)) for n in range(40)]
    requests = list(pack_requests(batches))
    assert len(requests) > 1
    assert all(_bytes(request) < MAX_REQUEST_BYTES for request in requests)
    assert sum(len(request) for request in requests) == 40


def test_nothing_to_send_is_no_request() -> None:
    assert list(pack_requests([])) == []
