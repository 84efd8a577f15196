"""Storing batches: one transaction holds the batches, their interactions and
impressions, and the refresh jobs, so a 202 always means all are durable.

Several requests can share the transaction (see writer.py). Each still gets
its own summary: a batch or event that two of them carry counts as new for
the first and as a duplicate for the others, as if they had come one after
the other.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert
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

Row = TypeVar("Row", InteractionRow, ImpressionRow)

INTERACTION_FIELDS = tuple(f.name for f in fields(InteractionRow))
IMPRESSION_FIELDS = tuple(f.name for f in fields(ImpressionRow))


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """The parsed batches of one HTTP request, and where they came from."""

    batches: Sequence[ParsedBatch]
    source: str


@dataclass(slots=True)
class _Tally:
    batches: int = 0
    interactions: int = 0
    duplicates: int = 0
    events: set[str] = field(default_factory=set)
    new_events: set[str] = field(default_factory=set)

    def summary(self) -> IngestSummary:
        return IngestSummary(
            batches=self.batches,
            interactions=self.interactions,
            duplicates=self.duplicates + len(self.events - self.new_events),
        )


async def store_batches(
    session: AsyncSession,
    batches: Sequence[ParsedBatch],
    source: str,
    attribution_window_seconds: float | None = None,
) -> IngestSummary:
    """Store one request's batches."""
    [summary] = await store_requests(
        session, [IngestRequest(batches, source)], attribution_window_seconds
    )
    return summary


async def store_requests(
    session: AsyncSession,
    requests: Sequence[IngestRequest],
    attribution_window_seconds: float | None = None,
) -> list[IngestSummary]:
    """Store several requests' batches in the session's transaction."""
    now = utcnow()
    tallies = [_Tally() for _ in requests]
    owners = _first_owners(requests, tallies)
    batch_ids = await _insert_batches(session, requests, owners, now)
    stored: list[tuple[ParsedBatch, int]] = []
    for batch in _unique(requests):
        owner = owners[batch.key]
        if batch.key in batch_ids:
            stored.append((batch, owner))
            tallies[owner].batches += 1
        else:
            tallies[owner].duplicates += 1

    interactions = [
        (row, batch_ids[batch.key], owner)
        for batch, owner in stored
        for row in batch.interactions
    ]
    if attribution_window_seconds is not None:
        interactions = await _attributed(
            session, interactions, attribution_window_seconds
        )
    new_interactions = await _insert_rows(session, Interaction, interactions, now)
    # After the purchases above, so a refund sent with its purchase finds it.
    refunds = await _transaction_refund_rows(session, stored, batch_ids)
    new_interactions += await _insert_rows(session, Interaction, refunds, now)
    impressions = [
        (row, batch_ids[batch.key], owner)
        for batch, owner in stored
        for row in batch.impressions
    ]
    new_impressions = await _insert_rows(session, Impression, impressions, now)

    for row, _, owner in interactions + refunds + impressions:
        tallies[owner].events.add(row.event_key)
    for row, owner in new_interactions:
        tallies[owner].interactions += 1
        tallies[owner].new_events.add(row.event_key)
    for row, owner in new_impressions:
        tallies[owner].new_events.add(row.event_key)
    await queue.enqueue(
        session, REFRESH, {str(row.mpid) for row, _ in new_interactions}
    )
    return [tally.summary() for tally in tallies]


def _first_owners(
    requests: Sequence[IngestRequest], tallies: list[_Tally]
) -> dict[str, int]:
    """Each batch key's first request; every later copy counts as a duplicate."""
    owners: dict[str, int] = {}
    for index, request in enumerate(requests):
        for batch in request.batches:
            if batch.key in owners:
                tallies[index].duplicates += 1
            else:
                owners[batch.key] = index
    return owners


def _unique(requests: Sequence[IngestRequest]) -> Iterable[ParsedBatch]:
    seen: set[str] = set()
    for request in requests:
        for batch in request.batches:
            if batch.key not in seen:
                seen.add(batch.key)
                yield batch


async def _insert_batches(
    session: AsyncSession,
    requests: Sequence[IngestRequest],
    owners: dict[str, int],
    now: datetime,
) -> dict[str, int]:
    """Insert the batches not stored before; their ids by key.

    Key order makes concurrent transactions that share batches wait on each
    other instead of deadlocking.
    """
    rows = [
        {
            "key": batch.key,
            "source": requests[owners[batch.key]].source,
            "mpid": batch.mpid,
            "event_count": batch.event_count,
            "received_at": now,
            "payload": batch.payload,
        }
        for batch in sorted(_unique(requests), key=_key)
    ]
    if not rows:
        return {}
    table = Batch.__table__
    statement = (
        upsert(session, table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key, table.c.id)
    )
    return dict((await _core(session, statement, rows)).all())


async def _core(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]):
    # On the session's connection, as plain Core: the ORM's bulk-insert path
    # would add per-row bookkeeping for rows no ORM object stands for.
    connection = await session.connection()
    return await connection.execute(statement, rows)


def _key(batch: ParsedBatch) -> str:
    return batch.key


async def _attributed(
    session: AsyncSession,
    rows: list[tuple[InteractionRow, int, int]],
    window_seconds: float,
) -> list[tuple[InteractionRow, int, int]]:
    credited = await attribute(
        session, [(row, batch_id) for row, batch_id, _ in rows], window_seconds
    )
    return [
        (row, batch_id, owner)
        for (row, batch_id), (_, _, owner) in zip(credited, rows, strict=True)
    ]


async def _transaction_refund_rows(
    session: AsyncSession,
    stored: list[tuple[ParsedBatch, int]],
    batch_ids: dict[str, int],
) -> list[tuple[InteractionRow, int, int]]:
    """A whole-transaction refund as a refund of each item its purchase held."""
    rows: list[tuple[InteractionRow, int, int]] = []
    for batch, owner in stored:
        for refund in batch.transaction_refunds:
            items = await _purchased_in(session, refund)
            rows += [
                (_refund_row(refund, position, item_id), batch_ids[batch.key], owner)
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
    candidates: list[tuple[Row, int, int]],
    now: datetime,
) -> list[tuple[Row, int]]:
    """Insert rows that are new; returns (row, owner) for those inserted.

    New means a new key and, for purchases and refunds, a transaction and
    item not stored before: no conflict target, so every unique index counts.
    A key two requests share is the first one's.
    """
    first: dict[str, tuple[Row, int]] = {}
    for row, _, owner in candidates:
        first.setdefault(row.key, (row, owner))
    if not first:
        return []
    names = INTERACTION_FIELDS if model is Interaction else IMPRESSION_FIELDS
    ordered = sorted(
        {row.key: (row, batch_id) for row, batch_id, _ in candidates}.values(),
        key=lambda candidate: candidate[0].key,
    )
    values: list[dict[str, Any]] = [
        {
            **{name: getattr(row, name) for name in names},
            "batch_id": batch_id,
            "received_at": now,
        }
        for row, batch_id in ordered
    ]
    table = model.__table__
    statement = upsert(session, table).on_conflict_do_nothing().returning(table.c.key)
    keys = (await _core(session, statement, values)).scalars().all()
    return [first[key] for key in keys]
