from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert
from app.impact.attribution import CARTS, CLICKS, PURCHASES
from app.models import Interaction, ServedRecommendation

OUTCOMES = {"clicked": CLICKS, "carted": CARTS, "purchased": PURCHASES}


async def record_served_many(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    """Keep generated lists for attribution; a list id is recorded once.

    Each row: recommendation_id, mpid, item_ids, source, generated_at.
    """
    if not rows:
        return
    table = ServedRecommendation.__table__
    statement = upsert(session, table).on_conflict_do_nothing(
        index_elements=["recommendation_id"]
    )
    connection = await session.connection()
    await connection.execute(statement, list(rows))


def _day(session: AsyncSession, column):
    """The UTC calendar day of a timestamp column, as YYYY-MM-DD text."""
    if session.bind.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


async def lists_per_day(
    session: AsyncSession, since: datetime
) -> dict[tuple[str, str], int]:
    day = _day(session, ServedRecommendation.generated_at)
    result = await session.execute(
        select(day, ServedRecommendation.source, func.count())
        .where(ServedRecommendation.generated_at >= since)
        .group_by(day, ServedRecommendation.source)
    )
    return {(d, source): count for d, source, count in result.all()}


async def outcomes_per_day(
    session: AsyncSession, since: datetime
) -> dict[tuple[str, str, str], int]:
    """Lists with at least one credited click, cart or purchase, per day and source."""
    day = _day(session, ServedRecommendation.generated_at)
    outcome = case(
        *(
            (Interaction.event_type.in_(actions), name)
            for name, actions in OUTCOMES.items()
        ),
    )
    result = await session.execute(
        select(
            day,
            ServedRecommendation.source,
            outcome,
            func.count(func.distinct(ServedRecommendation.recommendation_id)),
        )
        .join(
            Interaction,
            (Interaction.recommendation_id == ServedRecommendation.recommendation_id)
            & (Interaction.mpid == ServedRecommendation.mpid),
        )
        .where(
            ServedRecommendation.generated_at >= since,
            Interaction.event_type.in_(sum(OUTCOMES.values(), ())),
        )
        .group_by(day, ServedRecommendation.source, outcome)
    )
    return {(d, source, name): count for d, source, name, count in result.all()}
