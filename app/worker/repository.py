"""Reading and repairing the job queue: for people (CLI, admin API) and metrics."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Job, JobStatus
from app.models.base import utcnow

MAX_LISTED_JOBS = 1000


@dataclass(frozen=True, slots=True)
class QueueStats:
    kind: str
    status: str
    count: int
    oldest_created_at: datetime


@dataclass(frozen=True, slots=True)
class JobFilter:
    status: str | None = None
    kind: str | None = None
    key: str | None = None
    limit: int = 100


async def queue_stats(session: AsyncSession) -> list[QueueStats]:
    """Jobs per (kind, status) and when the oldest of each was created."""
    result = await session.execute(
        select(Job.kind, Job.status, func.count(), func.min(Job.created_at))
        .group_by(Job.kind, Job.status)
        .order_by(Job.kind, Job.status)
    )
    return [QueueStats(*row) for row in result.all()]


async def list_jobs(session: AsyncSession, where: JobFilter) -> Sequence[Job]:
    statement = select(Job).order_by(Job.id).limit(min(where.limit, MAX_LISTED_JOBS))
    if where.status is not None:
        statement = statement.where(Job.status == where.status)
    if where.kind is not None:
        statement = statement.where(Job.kind == where.kind)
    if where.key is not None:
        statement = statement.where(Job.key == where.key)
    return (await session.scalars(statement)).all()


async def replay(session: AsyncSession, job_id: int) -> Job | None:
    """Put one dead job back in the queue; None if no dead job has this id."""
    job = await session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.dead:
        return None
    await _revive(session, [job])
    return job


async def replay_kind(session: AsyncSession, kind: str) -> int:
    """Put every dead job of `kind` back in the queue; returns how many."""
    jobs = (
        await session.scalars(
            select(Job)
            .where(Job.kind == kind, Job.status == JobStatus.dead)
            .order_by(Job.id)
            .with_for_update()
        )
    ).all()
    await _revive(session, jobs)
    return len(jobs)


async def _revive(session: AsyncSession, jobs: Sequence[Job]) -> None:
    now = utcnow()
    for job in jobs:
        if await _live_twin(session, job):
            # A live job for the same key already does this work: reviving
            # the dead one would break the one-live-job-per-key rule.
            await session.execute(delete(Job).where(Job.id == job.id))
            continue
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                status=JobStatus.pending,
                attempts=0,
                rerun=False,
                run_at=now,
                # The job's age measures an outage; a replay starts afresh.
                created_at=now,
                updated_at=now,
            )
        )


async def _live_twin(session: AsyncSession, job: Job) -> bool:
    twin = await session.scalar(
        select(Job.id).where(
            Job.kind == job.kind,
            Job.key == job.key,
            Job.status != JobStatus.dead,
            Job.id != job.id,
        )
    )
    return twin is not None
