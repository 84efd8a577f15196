"""Storing batches: one transaction holds the batches, their interactions and
impressions, and the refresh jobs, so a 202 always means all are durable."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import chunks, upsert
from app.impact.attribution import attribute
from app.ingest.parsing import (
    ImpressionRow,
    InteractionRow,
    ParsedBatch,
    TransactionRefund,
)
from app.ingest.schemas import IngestSummary
from app.models import Batch, Impression, Interaction
from app.models.base import utcnow
from app.worker import queue
from app.worker.kinds import REFRESH

# Rows per INSERT: keeps every statement under SQLite's bound-parameter limit.
INSERT_CHUNK_ROWS = 500

Row = TypeVar("Row", InteractionRow, ImpressionRow)


async def store_batches(
    session: AsyncSession,
    batches: Sequence[ParsedBatch],
    source: str,
    attribution_window_seconds: float | None = None,
) -> IngestSummary:
    now = utcnow()
    new_batches, duplicate_batches = _split_repeats(batches)
    batch_ids = await _insert_batches(session, new_batches, source, now)
    stored = [batch for batch in new_batches if batch.key in batch_ids]
    duplicates = duplicate_batches + len(new_batches) - len(stored)

    interactions = [
        (row, batch_ids[batch.key]) for batch in stored for row in batch.interactions
    ]
    impressions = [
        (row, batch_ids[batch.key]) for batch in stored for row in batch.impressions
    ]
    if attribution_window_seconds is not None:
        interactions = await attribute(
            session, interactions, attribution_window_seconds
        )
    new_interactions = await _insert_rows(session, Interaction, interactions, now)
    # After the purchases above, so a refund sent with its purchase finds it.
    refunds = await _transaction_refund_rows(session, stored, batch_ids)
    new_interactions += await _insert_rows(session, Interaction, refunds, now)
    interactions += refunds
    new_impressions = await _insert_rows(session, Impression, impressions, now)
    candidate_events = {row.event_key for row, _ in interactions + impressions}
    new_events = {row.event_key for row in new_interactions + new_impressions}
    duplicates += len(candidate_events - new_events)

    await queue.enqueue(session, REFRESH, {str(row.mpid) for row in new_interactions})
    return IngestSummary(
        batches=len(stored), interactions=len(new_interactions), duplicates=duplicates
    )


def _key(batch: ParsedBatch) -> str:
    return batch.key


def _split_repeats(batches: Sequence[ParsedBatch]) -> tuple[list[ParsedBatch], int]:
    """Drop batches repeated within one request (a bulk post may repeat one)."""
    seen: dict[str, ParsedBatch] = {}
    for batch in batches:
        seen.setdefault(batch.key, batch)
    return list(seen.values()), len(batches) - len(seen)


async def _insert_batches(
    session: AsyncSession, batches: list[ParsedBatch], source: str, now: datetime
) -> dict[str, int]:
    ids: dict[str, int] = {}
    # Inserting in key order makes concurrent requests that share batches
    # wait on each other instead of deadlocking.
    for chunk in chunks(sorted(batches, key=_key), INSERT_CHUNK_ROWS):
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


async def _transaction_refund_rows(
    session: AsyncSession, batches: list[ParsedBatch], batch_ids: dict[str, int]
) -> list[tuple[InteractionRow, int]]:
    """A whole-transaction refund as a refund of each item its purchase held."""
    rows: list[tuple[InteractionRow, int]] = []
    for batch in batches:
        for refund in batch.transaction_refunds:
            items = await _purchased_in(session, refund)
            rows += [
                (_refund_row(refund, position, item_id), batch_ids[batch.key])
                for position, item_id in enumerate(items)
            ]
    return rows


async def _purchased_in(session: AsyncSession, refund: TransactionRefund) -> list[str]:
    result = await session.scalars(
        select(Interaction.item_id)
        .where(
            Interaction.mpid == refund.mpid,
            Interaction.transaction_id == refund.transaction_id,
            Interaction.event_type == "purchase",
        )
        .distinct()
        .order_by(Interaction.item_id)
    )
    return list(result)


def _refund_row(
    refund: TransactionRefund, position: int, item_id: str
) -> InteractionRow:
    return InteractionRow(
        key=f"{refund.event_key}#t{position}",
        event_key=refund.event_key,
        mpid=refund.mpid,
        item_id=item_id,
        event_type="refund",
        session_id=refund.session_id,
        occurred_at_ms=refund.occurred_at_ms,
        transaction_id=refund.transaction_id,
        recommendation_id=refund.recommendation_id,
    )


async def _insert_rows(
    session: AsyncSession,
    model: type[Interaction] | type[Impression],
    candidates: list[tuple[Row, int]],
    now: datetime,
) -> list[Row]:
    """Insert rows that are new; returns the ones actually inserted.

    New means a new key and, for purchases and refunds, a transaction and
    item not stored before: no conflict target, so every unique index counts.
    """
    by_key = {row.key: row for row, _ in candidates}
    inserted: list[Row] = []
    ordered = sorted(candidates, key=lambda candidate: candidate[0].key)
    for chunk in chunks(ordered, INSERT_CHUNK_ROWS):
        values: list[dict[str, Any]] = [
            {**asdict(row), "batch_id": batch_id, "received_at": now}
            for row, batch_id in chunk
        ]
        statement = (
            upsert(session, model)
            .values(values)
            .on_conflict_do_nothing()
            .returning(model.key)
        )
        keys = (await session.execute(statement)).scalars().all()
        inserted.extend(by_key[key] for key in keys)
    return inserted
