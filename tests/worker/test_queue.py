"""The job queue: coalescing, leases, claims that never overlap, dead letters."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db import Database
from app.models import Job, JobStatus
from app.models.base import utcnow
from app.worker import queue

pytestmark = pytest.mark.anyio


async def _enqueue(database: Database, kind: str, *keys: str) -> None:
    async with database.write() as session:
        await queue.enqueue(session, kind, keys)


async def _claim(database: Database, worker: str = "w1", limit: int = 10, lease=60.0):
    async with database.write() as session:
        return await queue.claim(session, worker, limit, lease)


async def _jobs(database: Database) -> list[Job]:
    async with database.read() as session:
        return list((await session.scalars(select(Job).order_by(Job.id))).all())


async def test_enqueue_coalesces_a_burst_into_one_job_per_key(database) -> None:
    for _ in range(5):
        await _enqueue(database, "refresh", "1", "2", "1")
    jobs = await _jobs(database)
    assert sorted((job.kind, job.key) for job in jobs) == [
        ("refresh", "1"),
        ("refresh", "2"),
    ]


async def test_the_same_key_of_another_kind_is_another_job(database) -> None:
    await _enqueue(database, "refresh", "1")
    await _enqueue(database, "sync", "1")
    assert len(await _jobs(database)) == 2


async def test_work_arriving_while_a_job_runs_makes_it_run_again(database) -> None:
    await _enqueue(database, "refresh", "1")
    [job] = await _claim(database)
    await _enqueue(database, "refresh", "1")

    async with database.write() as session:
        await queue.complete(session, job)

    [again] = await _jobs(database)
    assert again.status == JobStatus.pending
    assert again.attempts == 0
    [reclaimed] = await _claim(database)
    async with database.write() as session:
        await queue.complete(session, reclaimed)
    assert await _jobs(database) == []


async def test_a_claimed_job_is_not_claimed_again_while_leased(database) -> None:
    await _enqueue(database, "refresh", "1")
    assert len(await _claim(database, "w1")) == 1
    assert await _claim(database, "w2") == []


async def test_an_expired_lease_is_taken_over_and_the_old_holder_is_ignored(
    database,
) -> None:
    await _enqueue(database, "refresh", "1")
    [stale] = await _claim(database, "w1", lease=0.01)
    await asyncio.sleep(0.05)
    [fresh] = await _claim(database, "w2")
    assert fresh.id == stale.id
    assert fresh.attempts == 2

    async with database.write() as session:
        # The first worker wakes up late: its claim no longer holds.
        await queue.complete(session, stale)
        await queue.bury(session, stale, "late")
    [job] = await _jobs(database)
    assert (job.status, job.locked_by) == (JobStatus.running, fresh.claim)


async def test_concurrent_claims_never_share_a_job(database) -> None:
    await _enqueue(database, "refresh", *(str(n) for n in range(200)))

    claims = await asyncio.gather(
        *(_claim(database, f"w{n}", limit=15) for n in range(8))
    )

    ids = [job.id for claimed in claims for job in claimed]
    assert len(ids) == len(set(ids)) == 120


async def test_retry_later_puts_the_job_back_after_the_delay(database) -> None:
    await _enqueue(database, "refresh", "1")
    [job] = await _claim(database)
    async with database.write() as session:
        await queue.retry_later(session, job, "boom", delay_seconds=3600)

    assert await _claim(database) == []
    [stored] = await _jobs(database)
    assert stored.status == JobStatus.pending
    assert stored.last_error == "boom"
    assert stored.run_at > utcnow() + timedelta(minutes=59)


async def test_a_dead_job_keeps_its_error_and_does_not_block_new_work(database):
    await _enqueue(database, "sync", "1")
    [job] = await _claim(database)
    async with database.write() as session:
        await queue.bury(session, job, "x" * 5000)
    await _enqueue(database, "sync", "1")

    jobs = await _jobs(database)
    assert [job.status for job in jobs] == [JobStatus.dead, JobStatus.pending]
    assert len(jobs[0].last_error) == queue.MAX_ERROR_CHARS
    assert await _claim(database) != []


async def test_release_hands_a_job_back_without_using_an_attempt(database) -> None:
    await _enqueue(database, "refresh", "1")
    [job] = await _claim(database)
    async with database.write() as session:
        await queue.release(session, job)
    [stored] = await _jobs(database)
    assert (stored.status, stored.attempts, stored.locked_by) == ("pending", 0, None)


async def test_claims_take_the_oldest_due_jobs_first(database) -> None:
    await _enqueue(database, "refresh", "1", "2", "3")
    async with database.write() as session:
        await session.execute(
            update(Job)
            .where(Job.key == "2")
            .values(run_at=utcnow() - timedelta(hours=1))
        )
        await session.execute(
            update(Job)
            .where(Job.key == "3")
            .values(run_at=utcnow() + timedelta(hours=1))
        )
    claimed = await _claim(database, limit=1)
    assert [job.key for job in claimed] == ["2"]
    assert [job.key for job in await _claim(database)] == ["1"]


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_grows_exponentially_within_jitter_and_cap(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
    delays = [queue.backoff_seconds(attempt, 0.5, 30.0) for _ in range(200)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1


async def test_queue_depth_counts_jobs_by_status(database) -> None:
    await _enqueue(database, "refresh", "1", "2")
    await _claim(database, limit=1)
    async with database.read() as session:
        assert await queue.queue_depth(session) == {"pending": 1, "running": 1}


def test_backoff_after_very_many_attempts_stays_at_the_cap() -> None:
    assert 15.0 <= queue.backoff_seconds(5000, 0.5, 30.0) <= 30.0


@pytest.mark.parametrize(
    ("waited", "low", "high"), [(0, 0.5, 1), (100, 25, 50), (10**6, 150, 300)]
)
def test_outage_backoff_is_half_the_wait_within_base_and_cap(waited, low, high):
    delays = [queue.outage_backoff_seconds(waited, 1.0, 300.0) for _ in range(100)]
    assert all(low <= delay <= high for delay in delays)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_with_each_failure_after_the_pause_until_a_success():
    clock = Clock()
    backoff = queue.Backoff(1.0, 8.0, clock)
    pauses = []
    for _ in range(5):
        pauses.append(backoff.failed())
        clock.now += 100
    for pause, ceiling in zip(pauses, [1.0, 2.0, 4.0, 8.0, 8.0], strict=True):
        assert ceiling / 2 <= pause <= ceiling

    backoff.succeeded()
    assert backoff.failed() <= 1.0


def test_failures_during_a_pause_are_one_wave_and_do_not_lengthen_it():
    clock = Clock()
    backoff = queue.Backoff(1.0, 300.0, clock)
    first = backoff.failed()

    clock.now += first / 2
    concurrent = [backoff.failed() for _ in range(100)]

    assert concurrent == [pytest.approx(first / 2)] * 100
    clock.now += first
    assert 1.0 <= backoff.failed() <= 2.0


async def test_extending_leases_touches_only_jobs_still_held(database) -> None:
    await _enqueue(database, "refresh", "1", "2")
    held = await _claim(database, "w1", lease=0.01)
    await asyncio.sleep(0.05)
    [taken] = await _claim(database, "w2", limit=1)

    async with database.write() as session:
        renewed = await queue.extend_leases(session, held, 60)

    assert renewed == 1
    jobs = {job.id: job for job in await _jobs(database)}
    assert jobs[taken.id].locked_by == taken.claim
    kept = next(job for job in held if job.id != taken.id)
    assert jobs[kept.id].lease_expires_at > utcnow() + timedelta(seconds=30)
