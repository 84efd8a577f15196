"""Storing parsed batches: one transaction, idempotent under concurrency."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.db import Database
from app.ingest.parsing import ParseOptions, parse_batches
from app.ingest.service import store_batches
from app.models import Batch, Interaction, Job
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio

OPTIONS = ParseOptions(
    actions=frozenset({"view_detail", "purchase"}), received_at_ms=1_800_000_000_000
)


async def _count(database: Database, model: type) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_concurrent_requests_with_the_same_batches_store_them_once(
    database: Database,
) -> None:
    batches = [
        outbound_batch(m, product_event("view_detail", "A", "B")) for m in range(20)
    ]
    parsed = parse_batches(batches, OPTIONS)
    # Reversed order too: concurrent writers must not deadlock on shared keys.
    requests = [parsed, list(reversed(parsed))] * 3

    async def store(request):
        async with database.write() as session:
            return await store_batches(session, request, "webhook")

    summaries = await asyncio.gather(*(store(request) for request in requests))

    assert sum(summary.batches for summary in summaries) == 20
    assert sum(summary.interactions for summary in summaries) == 40
    assert await _count(database, Batch) == 20
    assert await _count(database, Interaction) == 40
    assert await _count(database, Job) == 20


async def test_a_failed_transaction_stores_nothing(database: Database) -> None:
    parsed = parse_batches([outbound_batch(1, product_event("purchase", "A"))], OPTIONS)

    async def store_then_fail() -> None:
        async with database.write() as session:
            await store_batches(session, parsed, "webhook")
            raise RuntimeError("the process died before the commit")

    with pytest.raises(RuntimeError):
        await store_then_fail()

    for model in (Batch, Interaction, Job):
        assert await _count(database, model) == 0
