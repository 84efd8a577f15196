"""Several real `recloop serve --no-worker` and `recloop worker` processes on one
database: no job runs twice at once, a killed worker's jobs are taken over,
and SIGTERM finishes the jobs in hand before the process exits."""

import asyncio
import signal
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select

from app.db import Database
from app.models import CachedRecommendation, Job
from tests.batches import outbound_batch, product_event
from tests.conftest import INGEST_AUTH
from tests.fakes.mparticle import FakeEventsApi
from tests.server import RecloopProcess, ServerProcess, WorkerProcess, recloop_env

pytestmark = pytest.mark.anyio

CATALOG = [f"SKU-{n}" for n in range(30)]
WAIT_SECONDS = 60.0


@pytest.fixture
def processes(database_url, tmp_path, events_api) -> Iterator[Callable]:
    started: list[RecloopProcess] = []

    def start(kind: type[RecloopProcess], *args: str, **env: str) -> RecloopProcess:
        values = {
            **recloop_env(database_url, INGEST_AUTH, events_api),
            "RECLOOP_RETRAIN_MIN_INTERVAL_SECONDS": "0.2",
            "RECLOOP_WORKER_POLL_SECONDS": "0.05",
            "RECLOOP_JOB_BACKOFF_BASE_SECONDS": "0.05",
            "RECLOOP_JOB_BACKOFF_MAX_SECONDS": "0.5",
            **env,
        }
        log = tmp_path / f"{kind.__name__}-{len(started)}.log"
        process = kind(values, log, *args).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


async def _post(server: ServerProcess, batches: list[dict]) -> None:
    async with httpx.AsyncClient(
        base_url=server.base_url, auth=INGEST_AUTH, timeout=30
    ) as client:
        response = await client.post("/webhooks/mparticle", json=batches)
        assert response.status_code == 202, response.text


async def _settled(database: Database) -> bool:
    """No job left and every cached list written back."""
    async with database.read() as session:
        jobs = await session.scalar(select(func.count()).select_from(Job))
        rows = (await session.scalars(select(CachedRecommendation))).all()
    synced = all(
        row.synced_item_ids == [item["item_id"] for item in row.items] for row in rows
    )
    return jobs == 0 and bool(rows) and synced


async def _wait(probe: Callable, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _in_flight(events_api: FakeEventsApi) -> bool:
    return bool(events_api.requests)


def _shoppers(first: int, count: int) -> list[dict]:
    return [
        outbound_batch(first + u, product_event("view_detail", *CATALOG[u : u + 4]))
        for u in range(count)
    ]


async def test_replicas_and_workers_never_run_a_job_twice_at_once(
    database, processes, events_api
) -> None:
    # Each write-back takes longer than a lease: only lease renewal keeps a
    # second worker from taking over a job that is still running.
    events_api.delay_seconds = 2.5
    replicas = [processes(ServerProcess, "--no-worker") for _ in range(2)]
    settings = {"RECLOOP_WORKER_BATCH_SIZE": "4", "RECLOOP_JOB_LEASE_SECONDS": "2"}
    workers = [processes(WorkerProcess, **settings) for _ in range(3)]

    for round_ in range(2):
        for index, replica in enumerate(replicas):
            await _post(replica, _shoppers(1000 + index * 20, 20))
        if round_ == 0:
            await asyncio.sleep(0.5)
    await _wait(lambda: _settled(database), "every list written back")

    delivered = events_api.delivered()
    assert events_api.overlapping_mpids == set()
    # Each list version went out once: no two runs of one job sent it.
    assert len(events_api.accepted_batches) == len(delivered)
    assert {batch["mpid"] for batch in delivered.values()} == set(range(1000, 1040))
    busy = [worker for worker in workers if "writeback.sent" in worker.log()]
    assert len(busy) >= 2


async def test_a_killed_workers_job_is_taken_over_when_its_lease_expires(
    database, processes, events_api
) -> None:
    events_api.delay_seconds = 3.0
    # One shopper alone: let their own items make a list worth sending.
    alone = {"RECLOOP_RECS_EXCLUDE_INTERACTED": "false"}
    replica = processes(ServerProcess, "--no-worker", **alone)
    lease = {"RECLOOP_JOB_LEASE_SECONDS": "1", **alone}
    first = processes(WorkerProcess, **lease)
    await _post(replica, _shoppers(2000, 1))
    await _wait(lambda: _in_flight(events_api), "a write-back in flight")

    assert first.kill(signal.SIGKILL) == -signal.SIGKILL
    events_api.delay_seconds = 0.0
    second = processes(WorkerProcess, **lease)
    await _wait(lambda: _settled(database), "the job taken over and done")

    assert "writeback.sent" in second.log()
    assert len(events_api.requests) >= 2
    # The resend carried the same keys, so mParticle keeps one delivery of
    # each list version, and the final list is among them.
    versions = {}
    for key, batch in events_api.delivered().items():
        recommendation_id = batch["events"][0]["data"]["custom_attributes"][
            "recommendation_id"
        ]
        assert versions.setdefault(recommendation_id, key) == key
    async with database.read() as session:
        [row] = (await session.scalars(select(CachedRecommendation))).all()
    assert row.recommendation_id in versions


@pytest.mark.parametrize("kind", [WorkerProcess, ServerProcess])
async def test_sigterm_finishes_the_job_in_hand_before_exiting(
    database, processes, events_api, kind
) -> None:
    events_api.delay_seconds = 2.0
    replica = processes(ServerProcess, "--no-worker")
    process = processes(kind)
    await _post(replica, _shoppers(3000, 1))
    await _wait(lambda: _in_flight(events_api), "a write-back in flight")

    assert process.kill(signal.SIGTERM) in (0, -signal.SIGTERM)

    assert "worker.stopped" in process.log()
    assert [batch["mpid"] for batch in events_api.accepted_batches] == [3000]
    async with database.read() as session:
        left = (await session.execute(select(Job.kind, Job.status))).all()
    # The write-back was finished and recorded; nothing is left held under a
    # lease (the retrainer may have queued a refresh that waits, unclaimed).
    assert ("sync", "running") not in left
    assert all(status == "pending" for _, status in left)
    async with database.read() as session:
        [row] = (await session.scalars(select(CachedRecommendation))).all()
    assert row.synced_item_ids == [item["item_id"] for item in row.items]
