"""Erasure records: what models and the Personalize deletion job read.

The seam for recommenders that keep state outside the database (the
embedded model in memory or in snapshots, Amazon Personalize):

- `erasure_watermark` is the id of the newest erasure. Read it *before*
  loading training data and store it with the model or snapshot; a model
  whose watermark is below the current one may hold an erased user, so it
  must be retrained and such a snapshot never loaded again.
- `pending_personalize_deletions` lists the MPIDs Personalize must still
  forget. `assign_personalize_deletion` puts those not in a data deletion
  job yet into one, by the job's name; `mark_personalize_deleted` drops the
  MPIDs of that job once it is done, leaving only anonymous rows, and
  `release_personalize_deletion` hands them back if it failed.
"""

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Erasure


async def erasure_watermark(session: AsyncSession) -> int:
    return await session.scalar(select(func.coalesce(func.max(Erasure.id), 0)))


async def pending_personalize_deletions(session: AsyncSession) -> list[int]:
    result = await session.scalars(
        select(Erasure.mpid).where(_pending()).order_by(Erasure.id)
    )
    return [mpid for mpid in result if mpid is not None]


async def personalize_deletion_in_progress(session: AsyncSession) -> str | None:
    """The data deletion job pending MPIDs were put in, oldest first; None if none."""
    return await session.scalar(
        select(Erasure.personalize_deletion_job)
        .where(_pending(), Erasure.personalize_deletion_job.is_not(None))
        .order_by(Erasure.id)
        .limit(1)
    )


async def assign_personalize_deletion(session: AsyncSession, job_name: str) -> int:
    """Put every pending MPID not in a deletion job yet into this one; how many."""
    result = await session.execute(
        update(Erasure)
        .where(_pending(), Erasure.personalize_deletion_job.is_(None))
        .values(personalize_deletion_job=job_name)
    )
    return result.rowcount


async def personalize_deletion_mpids(session: AsyncSession, job_name: str) -> list[int]:
    """The distinct MPIDs of a deletion job, in numeric order."""
    result = await session.scalars(
        select(Erasure.mpid)
        .distinct()
        .where(_pending(), Erasure.personalize_deletion_job == job_name)
        .order_by(Erasure.mpid)
    )
    return [mpid for mpid in result if mpid is not None]


async def mark_personalize_deleted(session: AsyncSession, job_name: str) -> int:
    """Forget the MPIDs of a deletion job once Personalize has finished it.

    Only the rows put in that job: a user erased (again) while it ran was
    not in its file, and waits for the next one.
    """
    result = await session.execute(
        update(Erasure)
        .where(Erasure.personalize_deletion_job == job_name)
        .values(mpid=None, personalize_pending=False, personalize_deletion_job=None)
    )
    return result.rowcount


async def release_personalize_deletion(session: AsyncSession, job_name: str) -> None:
    """A deletion job failed: its MPIDs stay pending, for the next job."""
    await session.execute(
        update(Erasure)
        .where(Erasure.personalize_deletion_job == job_name)
        .values(personalize_deletion_job=None)
    )


def _pending():
    return Erasure.personalize_pending.is_(True) & Erasure.mpid.is_not(None)


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
