"""Storing batches: one transaction holds the batches, their interactions and
the refresh jobs, so a 202 always means all three are durable."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import chunks, upsert
from app.ingest.parsing import InteractionRow, ParsedBatch
from app.ingest.schemas import IngestSummary
from app.models import Batch, Interaction
from app.models.base import utcnow
from app.worker import queue
from app.worker.kinds import REFRESH

# Rows per INSERT: keeps every statement under SQLite's bound-parameter limit.
INSERT_CHUNK_ROWS = 500


async def store_batches(
    session: AsyncSession, batches: Sequence[ParsedBatch], source: str
) -> IngestSummary:
    new_batches, duplicate_batches = _split_repeats(batches)
    batch_ids = await _insert_batches(session, new_batches, source)
    stored = [batch for batch in new_batches if batch.key in batch_ids]
    duplicates = duplicate_batches + len(new_batches) - len(stored)

    candidates = [
        (row, batch_ids[batch.key]) for batch in stored for row in batch.interactions
    ]
    inserted = await _insert_interactions(session, candidates)
    candidate_events = {row.event_key for row, _ in candidates}
    inserted_events = {row.event_key for row in inserted}
    duplicates += len(candidate_events - inserted_events)

    await queue.enqueue(session, REFRESH, {str(row.mpid) for row in inserted})
    return IngestSummary(
        batches=len(stored), interactions=len(inserted), duplicates=duplicates
    )


def _split_repeats(batches: Sequence[ParsedBatch]) -> tuple[list[ParsedBatch], int]:
    """Drop batches repeated within one request (a bulk post may repeat one)."""
    seen: dict[str, ParsedBatch] = {}
    for batch in batches:
        seen.setdefault(batch.key, batch)
    return list(seen.values()), len(batches) - len(seen)


async def _insert_batches(
    session: AsyncSession, batches: list[ParsedBatch], source: str
) -> dict[str, int]:
    now = utcnow()
    ids: dict[str, int] = {}
    for chunk in chunks(batches, INSERT_CHUNK_ROWS):
        rows = [
            {
                "key": batch.key,
                "source": source,
                "mpid": batch.mpid,
                "event_count": batch.event_count,
                "received_at": now,
                "payload": batch.payload,
            }
            for batch in chunk
        ]
        statement = (
            upsert(session, Batch)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Batch.key, Batch.id)
        )
        ids.update((await session.execute(statement)).all())
    return ids


async def _insert_interactions(
    session: AsyncSession, candidates: list[tuple[InteractionRow, int]]
) -> list[InteractionRow]:
    by_key = {row.key: row for row, _ in candidates}
    now = utcnow()
    inserted: list[InteractionRow] = []
    for chunk in chunks(candidates, INSERT_CHUNK_ROWS):
        rows = [
            {
                "key": row.key,
                "event_key": row.event_key,
                "batch_id": batch_id,
                "mpid": row.mpid,
                "item_id": row.item_id,
                "event_type": row.event_type,
                "session_id": row.session_id,
                "occurred_at_ms": row.occurred_at_ms,
                "received_at": now,
            }
            for row, batch_id in chunk
        ]
        statement = (
            upsert(session, Interaction)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Interaction.key)
        )
        keys = (await session.execute(statement)).scalars().all()
        inserted.extend(by_key[key] for key in keys)
    return inserted
