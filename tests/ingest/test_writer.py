"""Group commit: concurrent requests share a transaction, each keeps its summary."""

import asyncio

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.ingest.parsing import ParsedBatch, ParseOptions, parse_batch
from app.ingest.service import IngestRequest
from app.ingest.writer import IngestWriter
from app.models import Batch, Interaction
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio

OPTIONS = ParseOptions(
    actions=frozenset({"view_detail", "purchase"}), received_at_ms=1_800_000_000_000
)


def _request(*batches: dict) -> IngestRequest:
    return IngestRequest([parse_batch(b, OPTIONS) for b in batches], "webhook")


@pytest.fixture
async def writer(database: Database):
    writer = IngestWriter(database, attribution_window_seconds=None)
    writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
def commits(database: Database) -> list[int]:
    counted: list[int] = []
    listener = lambda _connection: counted.append(1)  # noqa: E731
    event.listen(database.engine.sync_engine, "commit", listener)
    yield counted
    event.remove(database.engine.sync_engine, "commit", listener)


async def _count(database: Database, model: type) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_concurrent_requests_share_one_commit(writer, database, commits):
    requests = [
        _request(outbound_batch(m, product_event("view_detail", "A", "B")))
        for m in range(30)
    ]

    summaries = await asyncio.gather(*(writer.store(r) for r in requests))

    assert [s.model_dump() for s in summaries] == [
        {"batches": 1, "interactions": 2, "duplicates": 0}
    ] * 30
    assert len(commits) == 1
    assert await _count(database, Interaction) == 60


async def test_a_batch_two_requests_carry_is_new_for_the_first_only(writer, database):
    shared = outbound_batch(1, product_event("purchase", "A"))
    first, second = await asyncio.gather(
        writer.store(_request(shared)),
        writer.store(_request(shared, outbound_batch(2))),
    )
    assert first.model_dump() == {"batches": 1, "interactions": 1, "duplicates": 0}
    assert second.model_dump() == {"batches": 1, "interactions": 0, "duplicates": 1}
    assert await _count(database, Batch) == 2


async def test_a_request_that_breaks_the_transaction_fails_alone(writer, database):
    good = [
        _request(outbound_batch(m, product_event("view_detail", "A"))) for m in (1, 2)
    ]
    broken = IngestRequest(
        [ParsedBatch(key="batch_id:broken", mpid=3, payload=None, event_count=0)],
        "webhook",
    )

    results = await asyncio.gather(
        writer.store(good[0]),
        writer.store(broken),
        writer.store(good[1]),
        return_exceptions=True,
    )

    assert isinstance(results[1], IntegrityError)
    assert [r.batches for r in (results[0], results[2])] == [1, 1]
    assert await _count(database, Batch) == 2


async def test_a_sender_that_hangs_up_still_has_its_batches_stored(writer, database):
    task = asyncio.create_task(
        writer.store(_request(outbound_batch(1, product_event("purchase", "A"))))
    )
    await asyncio.sleep(0)
    task.cancel()
    await writer.stop()
    writer.start()

    assert await _count(database, Interaction) == 1


async def test_stop_commits_what_is_waiting(database) -> None:
    writer = IngestWriter(database, attribution_window_seconds=None)
    writer.start()
    stores = [
        asyncio.create_task(writer.store(_request(outbound_batch(m)))) for m in range(5)
    ]
    await asyncio.sleep(0)
    await writer.stop()

    assert [(await s).batches for s in stores] == [1] * 5
    with pytest.raises(RuntimeError, match="not running"):
        await writer.store(_request(outbound_batch(9)))
