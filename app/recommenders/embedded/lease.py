"""A named lease in the database: at most one process holds it at a time.

Acquiring is one INSERT .. ON CONFLICT DO UPDATE that only takes over an
expired lease or renews the caller's own, so two processes racing for it
cannot both win, on PostgreSQL or SQLite.
"""

from datetime import timedelta

from sqlalchemy import delete

from app.db import Database, upsert
from app.models import TrainerLease
from app.models.base import utcnow


async def acquire(
    database: Database, name: str, holder: str, ttl_seconds: float
) -> bool:
    """Take or renew the lease; True when `holder` now holds it."""
    now = utcnow()
    values = {
        "name": name,
        "holder": holder,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }
    async with database.write() as session:
        statement = (
            upsert(session, TrainerLease)
            .values(values)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": holder, "expires_at": values["expires_at"]},
                where=(TrainerLease.expires_at < now) | (TrainerLease.holder == holder),
            )
            .returning(TrainerLease.holder)
        )
        winner = await session.scalar(statement)
    return winner == holder


async def release(database: Database, name: str, holder: str) -> None:
    """Give the lease up at once, if `holder` still holds it."""
    async with database.write() as session:
        await session.execute(
            delete(TrainerLease).where(
                TrainerLease.name == name, TrainerLease.holder == holder
            )
        )
