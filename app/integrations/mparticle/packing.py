"""Packing write-back batches into Events API requests within mParticle's limits."""

import json
from collections.abc import Iterator
from typing import Any, TypeVar

K = TypeVar("K")

MAX_BATCHES_PER_REQUEST = 100
# mParticle requires requests under 256 KB; leave room for the array brackets.
MAX_REQUEST_BYTES = 256 * 1024 - 1024
# And each batch at most 128 KB.
MAX_BATCH_BYTES = 128 * 1024


def batch_bytes(batch: dict[str, Any]) -> int:
    """The batch's size as httpx sends it (compact JSON), plus a comma."""
    return len(json.dumps(batch, separators=(",", ":")).encode()) + 1


def pack_requests(
    batches: list[tuple[K, dict[str, Any]]],
    max_batches: int = MAX_BATCHES_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> Iterator[list[tuple[K, dict[str, Any]]]]:
    """Group (key, batch) pairs into requests within `max_batches` and `max_bytes`."""
    request: list[tuple[K, dict[str, Any]]] = []
    size = 0
    for key, batch in batches:
        size_bytes = batch_bytes(batch)
        if request and (len(request) == max_batches or size + size_bytes > max_bytes):
            yield request
            request, size = [], 0
        request.append((key, batch))
        size += size_bytes
    if request:
        yield request
