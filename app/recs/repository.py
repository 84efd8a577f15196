from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert
from app.models import CachedRecommendation, Interaction
from app.recommenders.base import HistoryEvent

# A user's most recent interactions are what a list is folded from; older
# ones matter little and would make a heavy user's request slow.
HISTORY_LIMIT = 200

# What a recommender sees of each interaction, in HistoryEvent's order.
HISTORY_COLUMNS = (
    Interaction.item_id,
    Interaction.event_type,
    Interaction.occurred_at_ms,
    Interaction.session_id,
    Interaction.key,
)


async def user_history(
    session: AsyncSession, mpid: int, limit: int = HISTORY_LIMIT
) -> list[HistoryEvent]:
    """The user's interactions, most recent first."""
    result = await session.execute(
        select(*HISTORY_COLUMNS)
        .where(Interaction.mpid == mpid)
        .order_by(Interaction.occurred_at_ms.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [HistoryEvent(*row) for row in result.all()]


async def user_histories(
    session: AsyncSession, mpids: Sequence[int], limit: int = HISTORY_LIMIT
) -> dict[int, list[HistoryEvent]]:
    """Several users' interactions, each most recent first, in one query."""
    position = (
        func.row_number()
        .over(
            partition_by=Interaction.mpid,
            order_by=(Interaction.occurred_at_ms.desc(), Interaction.id.desc()),
        )
        .label("position")
    )
    ranked = (
        select(*HISTORY_COLUMNS, Interaction.mpid, position)
        .where(Interaction.mpid.in_(mpids))
        .subquery()
    )
    result = await session.execute(
        select(*(ranked.c[column.key] for column in HISTORY_COLUMNS), ranked.c.mpid)
        .where(ranked.c.position <= limit)
        .order_by(ranked.c.mpid, ranked.c.position)
    )
    histories: dict[int, list[HistoryEvent]] = {}
    for *event, mpid in result.all():
        histories.setdefault(mpid, []).append(HistoryEvent(*event))
    return histories


async def purchased_items(session: AsyncSession, mpid: int) -> set[str]:
    result = await session.scalars(
        select(Interaction.item_id)
        .where(Interaction.mpid == mpid, Interaction.event_type == "purchase")
        .distinct()
    )
    return set(result)


async def has_interactions(session: AsyncSession, mpid: int) -> bool:
    found = await session.scalar(
        select(Interaction.id).where(Interaction.mpid == mpid).limit(1)
    )
    return found is not None


async def users_with_interactions(
    session: AsyncSession, mpids: Sequence[int]
) -> set[int]:
    result = await session.scalars(
        select(Interaction.mpid).where(Interaction.mpid.in_(mpids)).distinct()
    )
    return set(result)


async def cached(session: AsyncSession, mpid: int) -> CachedRecommendation | None:
    return await session.get(CachedRecommendation, mpid)


async def cached_item_ids(
    session: AsyncSession, mpids: Sequence[int]
) -> dict[int, tuple[list[str], list[str] | None]]:
    """Per cached user: the list's item ids, and those last written back."""
    table = CachedRecommendation
    result = await session.execute(
        select(table.mpid, table.items, table.synced_item_ids).where(
            table.mpid.in_(mpids)
        )
    )
    return {
        mpid: ([item["item_id"] for item in items], synced)
        for mpid, items, synced in result
    }


async def replace_lists(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Cache these users' new lists, replacing what was cached.

    Each row: mpid, items, recommendation_id, source, generated_at; what was
    last written back (`synced_*`) stays as it was.
    """
    if not rows:
        return
    table = CachedRecommendation.__table__
    insert = upsert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["mpid"],
        set_={
            name: insert.excluded[name]
            for name in ("items", "recommendation_id", "source", "generated_at")
        },
    )
    connection = await session.connection()
    await connection.execute(statement, list(rows))


async def insert_if_absent(session: AsyncSession, row: dict[str, object]) -> None:
    """Cache a list computed on a miss, unless the worker cached one meanwhile."""
    await session.execute(
        upsert(session, CachedRecommendation)
        .values(row)
        .on_conflict_do_nothing(index_elements=["mpid"])
    )
