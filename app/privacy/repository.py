"""Erasure records: what models and the Personalize deletion job read.

The seam for recommenders that keep state outside the database (the
embedded model in memory or in snapshots, Amazon Personalize):

- `erasure_watermark` is the id of the newest erasure. Read it *before*
  loading training data and store it with the model or snapshot; a model
  whose watermark is below the current one may hold an erased user, so it
  must be retrained and such a snapshot never loaded again.
- `pending_personalize_deletions` lists the MPIDs Personalize must still
  forget; `mark_personalize_deleted` drops them once its deletion job is
  done, leaving only anonymous rows.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Erasure


async def erasure_watermark(session: AsyncSession) -> int:
    return await session.scalar(select(func.coalesce(func.max(Erasure.id), 0)))


async def pending_personalize_deletions(session: AsyncSession) -> list[int]:
    result = await session.scalars(
        select(Erasure.mpid)
        .where(Erasure.personalize_pending.is_(True), Erasure.mpid.is_not(None))
        .order_by(Erasure.id)
    )
    return [mpid for mpid in result if mpid is not None]


async def mark_personalize_deleted(session: AsyncSession, mpids: Sequence[int]) -> None:
    """Forget the MPIDs once Personalize's deletion job for them has finished."""
    await session.execute(
        update(Erasure)
        .where(Erasure.mpid.in_(mpids))
        .values(mpid=None, personalize_pending=False)
    )


async def expire_anonymous_erasures(session: AsyncSession, before: datetime) -> int:
    """Drop old anonymous erasure rows, always keeping the newest (the watermark)."""
    newest = await erasure_watermark(session)
    result = await session.execute(
        delete(Erasure).where(
            Erasure.mpid.is_(None),
            Erasure.erased_at < before,
            Erasure.id < newest,
        )
    )
    return result.rowcount
