"""Queries over recloop's store that Personalize tooling needs."""

from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.integrations.personalize.events import PendingInteraction
from app.integrations.personalize.provisioning.plan import MIN_INTERACTIONS_PER_USER
from app.integrations.personalize.provisioning.provision import DataCounts
from app.models import Interaction

ROWS_PER_FETCH = 5000


async def forwarded_counts(session: AsyncSession) -> DataCounts:
    """How much of what Personalize needs to train recloop has sent it."""
    forwarded = Interaction.forwarded_at.is_not(None)
    total = await session.scalar(select(func.count()).where(forwarded))
    per_user = (
        select(Interaction.mpid)
        .where(forwarded)
        .group_by(Interaction.mpid)
        .having(func.count() >= MIN_INTERACTIONS_PER_USER)
        .subquery()
    )
    users = await session.scalar(select(func.count()).select_from(per_user))
    return DataCounts(interactions=total or 0, users_with_enough=users or 0)


async def count_interactions(database: Database) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(Interaction)) or 0


# The columns of a PendingInteraction, in order.
PENDING_COLUMNS = (
    Interaction.key,
    Interaction.mpid,
    Interaction.item_id,
    Interaction.event_type,
    Interaction.session_id,
    Interaction.occurred_at_ms,
    Interaction.recommendation_id,
)


async def stream_interactions(database: Database) -> AsyncIterator[PendingInteraction]:
    """Every stored interaction in time order, fetched a few thousand at a time."""
    query = (
        select(*PENDING_COLUMNS)
        .order_by(Interaction.occurred_at_ms, Interaction.id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    async with database.read() as session:
        rows = await session.stream(query)
        async for row in rows:
            yield PendingInteraction(*row)
