"""An app that writes back to the local Events API, and shoppers to give its
users recommendations."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.models import CachedRecommendation, Job
from tests.batches import outbound_batch, product_event

CATALOG = [f"SKU-{n}" for n in range(40)]
WAIT_SECONDS = 30.0


@pytest.fixture
def writeback_app(start_app, events_api) -> Callable[..., Awaitable[Any]]:
    async def start(**settings: Any) -> Any:
        values = {
            "mparticle_api_key": "mp-key",
            "mparticle_api_secret": "mp-secret",
            "mparticle_base_url": events_api.base_url,
            "job_backoff_base_seconds": 0.05,
            "job_backoff_max_seconds": 0.2,
            "worker_poll_seconds": 0.02,
        }
        return await start_app(**(values | settings))

    return start


async def shop(app, mpids, offset: int = 0, action: str = "view_detail") -> None:
    """Each user views six products (shifted by `offset`); then retrain."""
    batches = [
        outbound_batch(mpid, product_event(action, *_products(n + offset)))
        for n, mpid in enumerate(mpids)
    ]
    for start in range(0, len(batches), 100):
        response = await app.client.post(
            "/webhooks/mparticle", json=batches[start : start + 100]
        )
        assert response.status_code == 202, response.text
    await app.retrain()


def _products(start: int) -> list[str]:
    return [CATALOG[(start + i) % len(CATALOG)] for i in range(6)]


@contextlib.asynccontextmanager
async def running_workers(app) -> AsyncIterator[None]:
    """The app's worker lanes running in the background, as in `recloop serve`."""
    tasks = [asyncio.create_task(worker.run()) for worker in app.runtime.workers]
    try:
        yield
    finally:
        for worker in app.runtime.workers:
            worker.stop()
        await asyncio.gather(*tasks)


async def wait_until(probe: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def cached_lists(database) -> dict[int, list[str]]:
    async with database.read() as session:
        rows = await session.scalars(select(CachedRecommendation))
        return {row.mpid: [item["item_id"] for item in row.items] for row in rows}


async def jobs(database) -> list[tuple[str, str, str, int]]:
    async with database.read() as session:
        result = await session.execute(
            select(Job.kind, Job.key, Job.status, Job.attempts)
        )
        return [tuple(row) for row in result.all()]
