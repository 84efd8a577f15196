"""Posting simulated batches to a running recloop at a steady rate."""

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import httpx

from app.simulation.batches import Shape, restamped

PATHS: dict[Shape, str] = {
    "outbound": "/webhooks/mparticle",
    "inbound": "/v2/bulkevents",
}
# Attempts per request when recloop answers 429 or 503 (it says when to retry).
MAX_ATTEMPTS = 5


class PostingFailed(RuntimeError):
    """recloop refused a request that retrying cannot fix."""


@dataclass
class PostSummary:
    requests: int = 0
    batches: int = 0
    interactions: int = 0
    duplicates: int = 0


async def post_batches(
    batches: Iterable[dict[str, Any]],
    base_url: str,
    shape: Shape,
    rate_per_second: float,
    auth: tuple[str, str] | None = None,
    batches_per_request: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
    live: bool = False,
) -> PostSummary:
    """Send `batches` in requests of a few batches each, `rate_per_second` batches/s.

    With `live`, each batch is stamped with the time it is sent, so the
    simulated weeks play out in real time against recloop's served lists.
    """
    summary = PostSummary()
    interval = batches_per_request / rate_per_second
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        auth=auth,
        timeout=httpx.Timeout(30.0),
        transport=transport,
    ) as client:
        next_send = time.monotonic()
        for request in _requests(batches, batches_per_request):
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
            next_send += interval
            if live:
                now_ms = int(time.time() * 1000)
                request = [restamped(batch, now_ms) for batch in request]
            body = await _post(client, PATHS[shape], request)
            summary.requests += 1
            summary.batches += body.get("batches", 0)
            summary.interactions += body.get("interactions", 0)
            summary.duplicates += body.get("duplicates", 0)
    return summary


def _requests(
    batches: Iterable[dict[str, Any]], size: int
) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(batches)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def _post(
    client: httpx.AsyncClient, path: str, request: list[dict[str, Any]]
) -> dict[str, Any]:
    for _ in range(MAX_ATTEMPTS):
        response = await client.post(path, json=request)
        if response.status_code == 202:
            return response.json()
        if response.status_code not in (429, 503):
            raise PostingFailed(
                f"POST {path} answered {response.status_code}: {response.text[:300]}"
            )
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    raise PostingFailed(f"POST {path} still unavailable after {MAX_ATTEMPTS} attempts")
