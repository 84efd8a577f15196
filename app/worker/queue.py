"""The job queue: a table, claimed under a lease, retried with backoff.

A job is identified by (kind, key), e.g. ("refresh", "<mpid>"). At most one
live job exists per pair, which coalesces a burst of a user's events into
one refresh; work that arrives while the job runs marks it to run again.
Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent workers
never take the same job; SQLite has one writer at a time and needs no lock.
"""

import random
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert
from app.models import Job, JobStatus
from app.models.base import utcnow
from app.models.job import LIVE_JOB

# Longer messages are cut: the last error is for a person reading it.
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    key: str
    attempts: int
    created_at: datetime
    claim: str


async def enqueue(session: AsyncSession, kind: str, keys: Iterable[str]) -> None:
    """Make sure a live job exists for each key; mark running ones to run again."""
    now = utcnow()
    # Sorted so that concurrent transactions lock job rows in the same order.
    rows = [_new_job(kind, key, now) for key in sorted(set(keys))]
    if not rows:
        return
    table = Job.__table__
    insert = upsert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["kind", "key"],
        index_where=LIVE_JOB,
        set_={"rerun": True, "updated_at": insert.excluded.updated_at},
        where=table.c.status == JobStatus.running,
    )
    # One statement run for every row (executemany), on the session's
    # connection as plain Core: compiled once, however many keys there are.
    connection = await session.connection()
    await connection.execute(statement, rows)


def _new_job(kind: str, key: str, now: datetime) -> dict[str, object]:
    return {
        "kind": kind,
        "key": key,
        "status": JobStatus.pending,
        "rerun": False,
        "attempts": 0,
        "run_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def claim(
    session: AsyncSession,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    *,
    kinds: Collection[str] | None = None,
    skip_kinds: Collection[str] = (),
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs, including running ones whose lease expired.

    `kinds` limits the claim to those kinds and `skip_kinds` leaves some out,
    so a kind can have a worker lane of its own.
    """
    now = utcnow()
    claim_token = f"{worker_id}:{uuid.uuid4().hex[:12]}"
    due = (
        select(Job.id)
        .where(
            or_(
                (Job.status == JobStatus.pending) & (Job.run_at <= now),
                (Job.status == JobStatus.running) & (Job.lease_expires_at < now),
            ),
            *_lane(kinds, skip_kinds),
        )
        .order_by(Job.run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(
            status=JobStatus.running,
            attempts=Job.attempts + 1,
            rerun=False,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            locked_by=claim_token,
            updated_at=now,
        )
        .returning(Job.id, Job.kind, Job.key, Job.attempts, Job.created_at)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return [ClaimedJob(*row, claim=claim_token) for row in result.all()]


def _lane(kinds: Collection[str] | None, skip_kinds: Collection[str]) -> list:
    conditions = []
    if kinds is not None:
        conditions.append(Job.kind.in_(kinds))
    if skip_kinds:
        conditions.append(Job.kind.not_in(skip_kinds))
    return conditions


async def complete(session: AsyncSession, job: ClaimedJob) -> None:
    """Finish a job, or run it again if new work for its key arrived meanwhile."""
    finished = await session.execute(
        delete(Job).where(_held(job), Job.rerun.is_(False))
    )
    if finished.rowcount:
        return
    await session.execute(
        update(Job)
        .where(_held(job))
        .values(
            status=JobStatus.pending,
            rerun=False,
            attempts=0,
            run_at=utcnow(),
            lease_expires_at=None,
            locked_by=None,
            updated_at=utcnow(),
        )
    )


async def extend_leases(
    session: AsyncSession, jobs: Iterable[ClaimedJob], lease_seconds: float
) -> int:
    """Push the lease of jobs still held further out; returns how many are held."""
    now = utcnow()
    held = list(jobs)
    if not held:
        return 0
    # Rows locked by someone else right now are skipped rather than waited
    # for: the next renewal gets them, and a renewal never joins a deadlock.
    still_held = (
        select(Job.id)
        .where(
            Job.id.in_([job.id for job in held]),
            Job.locked_by.in_({job.claim for job in held}),
        )
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(still_held.scalar_subquery()))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def retry_later(
    session: AsyncSession,
    job: ClaimedJob,
    error: str,
    delay_seconds: float,
    *,
    spend_attempt: bool = True,
) -> None:
    """Run the job again after a delay. Without `spend_attempt` the attempt is
    handed back: the job did not fail, the service asked recloop to wait."""
    now = utcnow()
    await session.execute(
        update(Job)
        .where(_held(job))
        .values(
            status=JobStatus.pending,
            attempts=Job.attempts if spend_attempt else Job.attempts - 1,
            run_at=now + timedelta(seconds=delay_seconds),
            lease_expires_at=None,
            locked_by=None,
            last_error=error[:MAX_ERROR_CHARS],
            updated_at=now,
        )
    )


async def bury(session: AsyncSession, job: ClaimedJob, error: str) -> None:
    """Leave a job dead with its last error, for a person to inspect or replay."""
    await session.execute(
        update(Job)
        .where(_held(job))
        .values(
            status=JobStatus.dead,
            lease_expires_at=None,
            locked_by=None,
            last_error=error[:MAX_ERROR_CHARS],
            updated_at=utcnow(),
        )
    )


async def dead_letter(session: AsyncSession, kind: str, errors: dict[str, str]) -> None:
    """Record work that failed before it was ever a job, as dead jobs of `kind`.

    They show and replay like any dead job; `errors` maps each key to why.
    """
    now = utcnow()
    rows = [
        {
            **_new_job(kind, key, now),
            "status": JobStatus.dead,
            "last_error": error[:MAX_ERROR_CHARS],
        }
        for key, error in sorted(errors.items())
    ]
    if rows:
        await session.execute(insert(Job), rows)


async def release(session: AsyncSession, job: ClaimedJob) -> None:
    """Hand back a job that was claimed but not started, without using an attempt."""
    await session.execute(
        update(Job)
        .where(_held(job))
        .values(
            status=JobStatus.pending,
            attempts=Job.attempts - 1,
            lease_expires_at=None,
            locked_by=None,
            updated_at=utcnow(),
        )
    )


def _held(job: ClaimedJob):
    # A worker whose lease expired may finish late; matching the claim token
    # keeps it from touching a job another worker has since taken over.
    return (Job.id == job.id) & (Job.locked_by == job.claim)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: half fixed, half random, so retries spread."""
    # The exponent is bounded: 2**1024 overflows a float, and any cap is
    # reached long before 2**60.
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 60))
    return _jitter(ceiling)


def outage_backoff_seconds(waited_seconds: float, base: float, cap: float) -> float:
    """Backoff while a downstream is out: half of how long the work has waited.

    Each retry then comes about 1.5 times later than the one before, without
    counting attempts, so an outage of any length backs off the same way.
    """
    return _jitter(min(cap, max(base, waited_seconds / 2)))


def _jitter(ceiling: float) -> float:
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not security


class Backoff:
    """How long to leave a failing downstream alone; one per downstream and process.

    Each failure that comes after the current pause ran out doubles the next
    pause (jittered, up to `max_seconds`). Failures of calls made during a
    pause belong to the same wave and leave it as it is: a hundred calls
    failing together back off like one, instead of jumping to the cap. A
    success ends the streak.
    """

    def __init__(
        self,
        base_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_seconds = base_seconds
        self._max_seconds = max_seconds
        self._clock = clock
        self._failures = 0
        self._until = 0.0

    def failed(self) -> float:
        """Note a failure; the seconds left of the pause it belongs to."""
        now = self._clock()
        if now >= self._until:
            self._failures += 1
            pause = backoff_seconds(
                self._failures, self._base_seconds, self._max_seconds
            )
            self._until = now + pause
        return self._until - now

    def succeeded(self) -> None:
        self._failures = 0
        self._until = 0.0


async def queue_depth(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(Job.status, func.count()).group_by(Job.status)
    )
    return dict(result.all())
