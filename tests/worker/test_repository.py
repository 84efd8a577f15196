"""Reading and repairing the queue: stats, filters, replay of dead jobs."""

import pytest
from sqlalchemy import select

from app.models import Job, JobStatus
from app.worker import repository
from tests.worker.conftest import add_jobs

pytestmark = pytest.mark.anyio


async def _all(database) -> list[tuple[str, str, str, int]]:
    async with database.read() as session:
        rows = await session.execute(
            select(Job.kind, Job.key, Job.status, Job.attempts).order_by(Job.id)
        )
        return [tuple(row) for row in rows.all()]


async def test_queue_stats_count_jobs_by_kind_and_status(database) -> None:
    await add_jobs(database, "refresh", "1", "2")
    await add_jobs(database, "sync", "1", dead=True)
    async with database.read() as session:
        stats = await repository.queue_stats(session)
    assert [(s.kind, s.status, s.count) for s in stats] == [
        ("refresh", "pending", 2),
        ("sync", "dead", 1),
    ]
    assert all(s.oldest_created_at.tzinfo is not None for s in stats)


async def test_list_filters_by_status_kind_and_key(database) -> None:
    await add_jobs(database, "refresh", "1", "2")
    await add_jobs(database, "sync", "1", "3", dead=True)
    async with database.read() as session:
        dead = await repository.list_jobs(session, repository.JobFilter(status="dead"))
        one = await repository.list_jobs(
            session, repository.JobFilter(kind="sync", key="3")
        )
        limited = await repository.list_jobs(session, repository.JobFilter(limit=1))
    assert [(job.kind, job.key) for job in dead] == [("sync", "1"), ("sync", "3")]
    assert [(job.kind, job.key) for job in one] == [("sync", "3")]
    assert len(limited) == 1


async def test_replay_puts_one_dead_job_back_with_fresh_attempts(database) -> None:
    await add_jobs(database, "sync", "1", "2", dead=True)
    async with database.read() as session:
        first = (await repository.list_jobs(session, repository.JobFilter()))[0]

    async with database.write() as session:
        assert await repository.replay(session, first.id) is not None
        assert await repository.replay(session, 10**9) is None

    assert await _all(database) == [
        ("sync", "1", JobStatus.pending, 0),
        ("sync", "2", JobStatus.dead, 8),
    ]


async def test_replaying_a_job_that_is_not_dead_does_nothing(database) -> None:
    await add_jobs(database, "sync", "1")
    async with database.read() as session:
        [job] = await repository.list_jobs(session, repository.JobFilter())
    async with database.write() as session:
        assert await repository.replay(session, job.id) is None


async def test_replay_kind_revives_every_dead_job_of_the_kind(database) -> None:
    await add_jobs(database, "sync", "1", "2", dead=True)
    await add_jobs(database, "refresh", "1", dead=True)
    async with database.write() as session:
        assert await repository.replay_kind(session, "sync") == 2
    assert await _all(database) == [
        ("sync", "1", JobStatus.pending, 0),
        ("sync", "2", JobStatus.pending, 0),
        ("refresh", "1", JobStatus.dead, 8),
    ]


async def test_a_dead_job_whose_key_has_live_work_merges_into_it(database) -> None:
    await add_jobs(database, "sync", "1", dead=True)
    await add_jobs(database, "sync", "1", dead=True)
    await add_jobs(database, "sync", "1")
    async with database.write() as session:
        assert await repository.replay_kind(session, "sync") == 2
    assert await _all(database) == [("sync", "1", JobStatus.pending, 0)]
