"""Crediting a user's views, carts and purchases to the list that showed the item.

An interaction the app did not tag with a recommendation_id is credited to
the first list recloop generated for the same user, within the attribution
window before the interaction, that contains the item: the list that put the
item in front of the user first, so a view, the add-to-cart and the purchase
that follow it are credited to the same list. The id
is stored on the interaction, so stats and the Personalize event forwarder
(as `recommendationId`) see it like an id the app passed itself.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.parsing import InteractionRow
from app.models import ServedRecommendation

# Product actions that count as following a recommendation, by outcome.
CLICKS = ("view_detail", "click")
CARTS = ("add_to_cart",)
PURCHASES = ("purchase",)
ATTRIBUTED_ACTIONS = frozenset(CLICKS + CARTS + PURCHASES)


async def attribute(
    session: AsyncSession,
    rows: Sequence[tuple[InteractionRow, int]],
    window_seconds: float,
) -> list[tuple[InteractionRow, int]]:
    """`rows` with recommendation_id filled in where a served list explains them."""
    pending = [
        row
        for row, _ in rows
        if row.recommendation_id is None and row.event_type in ATTRIBUTED_ACTIONS
    ]
    if not pending:
        return list(rows)
    window = timedelta(seconds=window_seconds)
    earliest = min(_at(row) for row in pending) - window
    lists = await _lists(session, {row.mpid for row in pending}, earliest)
    return [
        (_credited(row, lists.get(row.mpid, []), window), batch) for row, batch in rows
    ]


async def _lists(
    session: AsyncSession, mpids: set[int], since: datetime
) -> dict[int, list[ServedRecommendation]]:
    """Each user's lists generated since `since`, oldest first."""
    result = await session.scalars(
        select(ServedRecommendation)
        .where(
            ServedRecommendation.mpid.in_(mpids),
            ServedRecommendation.generated_at >= since,
        )
        .order_by(ServedRecommendation.generated_at)
    )
    lists: dict[int, list[ServedRecommendation]] = {}
    for served in result:
        lists.setdefault(served.mpid, []).append(served)
    return lists


def _credited(
    row: InteractionRow, lists: list[ServedRecommendation], window: timedelta
) -> InteractionRow:
    if row.recommendation_id is not None or row.event_type not in ATTRIBUTED_ACTIONS:
        return row
    occurred = _at(row)
    for served in lists:
        if occurred - window <= served.generated_at <= occurred and (
            row.item_id in served.item_ids
        ):
            return replace(row, recommendation_id=served.recommendation_id)
    return row


def _at(row: InteractionRow) -> datetime:
    return datetime.fromtimestamp(row.occurred_at_ms / 1000, tz=UTC)
