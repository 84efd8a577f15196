"""The worker loop: outcomes become completion, retry with backoff, or death."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import Database
from app.models import Job, JobStatus
from app.models.base import utcnow
from app.worker import queue
from app.worker.errors import DownstreamUnavailable, PermanentJobError, RetryJobAfter
from app.worker.handlers import Outcomes
from app.worker.queue import ClaimedJob
from app.worker.runner import Worker

pytestmark = pytest.mark.anyio


class Scripted:
    """A handler that fails each key the given number of times, then succeeds."""

    def __init__(self, failures: dict[str, Exception | list[Exception]]) -> None:
        self.failures = {
            key: list(errors) if isinstance(errors, list) else [errors]
            for key, errors in failures.items()
        }
        self.seen: list[str] = []

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        self.seen.extend(job.key for job in jobs)
        return {job.id: self._outcome(job.key) for job in jobs}

    def _outcome(self, key: str) -> Exception | None:
        errors = self.failures.get(key) or []
        return errors.pop(0) if errors else None


def _worker(database, make_settings, handlers, **settings) -> Worker:
    values = {"job_backoff_base_seconds": 0.001, "job_backoff_max_seconds": 0.002}
    return Worker(database, handlers, make_settings(**(values | settings)), "test")


async def _enqueue(database: Database, kind: str, *keys: str) -> None:
    async with database.write() as session:
        await queue.enqueue(session, kind, keys)


async def _drain(worker: Worker, rounds: int = 50) -> None:
    for _ in range(rounds):
        await worker.run_once()
        await asyncio.sleep(0.005)


async def _jobs(database: Database) -> list[Job]:
    async with database.read() as session:
        return list((await session.scalars(select(Job).order_by(Job.key))).all())


async def test_successful_jobs_are_removed(database, make_settings) -> None:
    handler = Scripted({})
    await _enqueue(database, "refresh", "1", "2")
    worker = _worker(database, make_settings, {"refresh": handler})

    assert await worker.run_once() == 2
    assert sorted(handler.seen) == ["1", "2"]
    assert await _jobs(database) == []


async def test_failures_are_retried_until_they_succeed(database, make_settings):
    handler = Scripted({"1": [RuntimeError("blip"), RuntimeError("blip")]})
    await _enqueue(database, "refresh", "1")

    await _drain(_worker(database, make_settings, {"refresh": handler}))

    assert handler.seen == ["1", "1", "1"]
    assert await _jobs(database) == []


async def test_bounded_attempts_leave_the_job_dead_with_its_last_error(
    database, make_settings
) -> None:
    handler = Scripted({"1": [RuntimeError(f"failure {n}") for n in range(10)]})
    await _enqueue(database, "refresh", "1")

    await _drain(
        _worker(database, make_settings, {"refresh": handler}, job_max_attempts=3)
    )

    [job] = await _jobs(database)
    assert (job.status, job.attempts) == (JobStatus.dead, 3)
    assert job.last_error == "RuntimeError: failure 2"
    assert handler.seen == ["1"] * 3


async def test_a_permanent_error_is_dead_at_once(database, make_settings) -> None:
    handler = Scripted({"1": PermanentJobError("mParticle said 400: bad batch")})
    await _enqueue(database, "sync", "1")

    await _drain(_worker(database, make_settings, {"sync": handler}))

    [job] = await _jobs(database)
    assert job.status == JobStatus.dead
    assert job.attempts == 1
    assert "bad batch" in job.last_error


async def test_retry_after_is_a_floor_on_the_delay(database, make_settings) -> None:
    handler = Scripted({"1": RetryJobAfter("429", delay_seconds=120)})
    await _enqueue(database, "sync", "1")
    worker = _worker(database, make_settings, {"sync": handler})

    await worker.run_once()

    [job] = await _jobs(database)
    assert job.status == JobStatus.pending
    assert (job.run_at - utcnow()).total_seconds() > 100


async def test_a_handler_that_raises_fails_only_its_own_kind(database, make_settings):
    async def broken(jobs):
        raise ConnectionError("downstream is gone")

    healthy = Scripted({})
    await _enqueue(database, "sync", "1")
    await _enqueue(database, "refresh", "1")
    worker = _worker(database, make_settings, {"sync": broken, "refresh": healthy})

    await worker.run_once()

    [job] = await _jobs(database)
    assert (job.kind, job.status) == ("sync", JobStatus.pending)
    assert "downstream is gone" in job.last_error
    assert healthy.seen == ["1"]


async def test_a_kind_without_a_handler_goes_dead(database, make_settings) -> None:
    await _enqueue(database, "mystery", "1")
    await _worker(database, make_settings, {}).run_once()
    [job] = await _jobs(database)
    assert job.status == JobStatus.dead
    assert "no handler" in job.last_error


async def test_stop_releases_claimed_jobs_it_has_not_started(database, make_settings):
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(jobs):
        started.set()
        await release.wait()
        return {job.id: None for job in jobs}

    other = Scripted({})
    await _enqueue(database, "a", "1")
    await _enqueue(database, "b", "1")
    worker = _worker(database, make_settings, {"a": slow, "b": other})

    round_ = asyncio.create_task(worker.run_once())
    await started.wait()
    worker.stop()
    release.set()
    await round_

    # The job in hand finished; the one not yet started went back, unspent.
    [job] = await _jobs(database)
    assert (job.kind, job.status, job.attempts) == ("b", JobStatus.pending, 0)
    assert other.seen == []


async def test_run_returns_promptly_after_stop(database, make_settings) -> None:
    worker = _worker(database, make_settings, {}, worker_poll_seconds=30)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, timeout=5)


async def test_lanes_claim_only_their_kinds(database, make_settings) -> None:
    settings = make_settings()
    refresh, sync = Scripted({}), Scripted({})
    main = Worker(database, {"refresh": refresh}, settings, "main", skip_kinds={"sync"})
    lane = Worker(database, {"sync": sync}, settings, "lane", kinds={"sync"})
    await _enqueue(database, "refresh", "1")
    await _enqueue(database, "sync", "1")

    await _drain(main, rounds=3)
    assert (refresh.seen, sync.seen) == (["1"], [])
    await _drain(lane, rounds=3)
    assert sync.seen == ["1"]


async def test_a_paused_lane_claims_nothing_until_the_pause_ends(
    database, make_settings
) -> None:
    handler = Scripted({})
    asked: list[int] = []

    def paused_for() -> float:
        asked.append(1)
        if len(asked) == 3:
            worker.stop()
        return 0.01

    worker = Worker(
        database, {"sync": handler}, make_settings(), "lane", paused_for=paused_for
    )
    await _enqueue(database, "sync", "1")
    await worker.run()

    assert handler.seen == []
    [job] = await _jobs(database)
    assert (job.status, job.attempts) == (JobStatus.pending, 0)


async def test_a_downstream_outage_spends_no_attempts_and_ends_delivered(
    database, make_settings
) -> None:
    outage = [DownstreamUnavailable("mparticle", "503") for _ in range(6)]
    handler = Scripted({"1": outage})
    await _enqueue(database, "sync", "1")

    await _drain(
        _worker(database, make_settings, {"sync": handler}, job_max_attempts=2),
        rounds=200,
    )

    assert handler.seen == ["1"] * 7
    assert await _jobs(database) == []


async def test_an_outage_longer_than_the_limit_leaves_the_job_dead(
    database, make_settings
) -> None:
    handler = Scripted({"1": DownstreamUnavailable("mparticle", "timed out")})
    await _enqueue(database, "sync", "1")
    async with database.write() as session:
        job = (await session.scalars(select(Job))).one()
        job.created_at = utcnow() - timedelta(hours=73)

    await _worker(database, make_settings, {"sync": handler}).run_once()

    [job] = await _jobs(database)
    assert job.status == JobStatus.dead
    assert job.last_error.startswith("mparticle unavailable for 73")


async def test_an_outage_backs_off_by_how_long_the_work_has_waited(
    database, make_settings
) -> None:
    handler = Scripted({"1": DownstreamUnavailable("mparticle", "503")})
    await _enqueue(database, "sync", "1")
    async with database.write() as session:
        job = (await session.scalars(select(Job))).one()
        job.created_at = utcnow() - timedelta(seconds=600)

    worker = _worker(
        database,
        make_settings,
        {"sync": handler},
        job_backoff_base_seconds=1,
        job_backoff_max_seconds=3600,
    )
    await worker.run_once()

    [job] = await _jobs(database)
    delay = (job.run_at - utcnow()).total_seconds()
    assert (job.status, job.attempts) == (JobStatus.pending, 0)
    assert 140 < delay <= 300


async def test_leases_are_renewed_while_a_slow_job_runs(database, make_settings):
    async def slow(jobs):
        await asyncio.sleep(1.0)
        return {job.id: None for job in jobs}

    await _enqueue(database, "sync", "1")
    worker = _worker(database, make_settings, {"sync": slow}, job_lease_seconds=0.3)
    running = asyncio.create_task(worker.run_once())
    taken_over = []
    for _ in range(8):
        await asyncio.sleep(0.1)
        async with database.write() as session:
            taken_over += await queue.claim(session, "intruder", 10, 60)
    await running

    assert taken_over == []
    assert await _jobs(database) == []


async def test_cancelled_shutdown_hands_unfinished_jobs_back_at_once(
    database, make_settings
) -> None:
    started = asyncio.Event()

    async def stuck(jobs):
        started.set()
        await asyncio.Event().wait()

    await _enqueue(database, "sync", "1")
    worker = _worker(database, make_settings, {"sync": stuck})
    task = asyncio.create_task(worker.run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [job] = await _jobs(database)
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.pending, None, 0)
