"""`recloop serve` as a process: acknowledged data survives kill -9 and SIGTERM,
and the jobs it left are picked up after a restart."""

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.db import Database
from app.models import Batch, CachedRecommendation, Interaction, Job
from tests.batches import inbound_batch, outbound_batch, product_event
from tests.conftest import INGEST_AUTH
from tests.server import ServerProcess

pytestmark = pytest.mark.anyio

CATALOG = [f"SKU-{n}" for n in range(20)]
WAIT_SECONDS = 30.0


def _server(
    database_url: str, tmp_path: Path, *args: str, **settings: str
) -> ServerProcess:
    env = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": INGEST_AUTH[0],
        "RECLOOP_INGEST_SECRET": INGEST_AUTH[1],
        "RECLOOP_RETRAIN_MIN_INTERVAL_SECONDS": "0.2",
        "RECLOOP_WORKER_POLL_SECONDS": "0.05",
        **settings,
    }
    return ServerProcess(env, tmp_path / "serve.log", *args)


def _shoppers() -> list[dict]:
    return [
        outbound_batch(500 + u, product_event("view_detail", *CATALOG[u : u + 5]))
        for u in range(8)
    ]


async def _count(database: Database, model: type) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_kill_9_loses_nothing_acknowledged_and_restart_runs_pending_jobs(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    server = _server(database_url, tmp_path, "--no-worker").start()
    async with httpx.AsyncClient(base_url=server.base_url, auth=INGEST_AUTH) as client:
        response = await client.post("/webhooks/mparticle", json=_shoppers())
        assert response.status_code == 202
        bulk = [inbound_batch(9, product_event("purchase", "SKU-3", outbound=False))]
        assert (await client.post("/v2/bulkevents", json=bulk)).status_code == 202
    assert server.kill(signal.SIGKILL) == -signal.SIGKILL

    assert await _count(database, Batch) == 9
    assert await _count(database, Interaction) == 41
    assert await _count(database, Job) == 9

    server = _server(database_url, tmp_path).start()
    try:
        await _wait_for(lambda: _count(database, Job), 0)
        assert await _count(database, CachedRecommendation) == 9
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            body = (await client.get("/users/9/recs")).json()
        assert body["source"] == "embedded"
        assert len(body["items"]) == 5
        assert "SKU-3" not in {item["item_id"] for item in body["items"]}
    finally:
        server.stop()


async def test_sigterm_exits_cleanly_after_acknowledged_posts(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    server = _server(database_url, tmp_path).start()
    async with httpx.AsyncClient(base_url=server.base_url, auth=INGEST_AUTH) as client:
        response = await client.post("/webhooks/mparticle", json=_shoppers())
        assert response.status_code == 202

    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.kill(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "runtime.stopped" in server.log()
    assert await _count(database, Interaction) == 40


async def _wait_for(probe, expected: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (value := await probe()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value}, expected {expected}")
        await asyncio.sleep(0.1)


async def test_several_api_processes_share_one_job_worker(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    server = _server(database_url, tmp_path, "--workers", "2").start()
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, auth=INGEST_AUTH
        ) as client:
            for _ in range(4):
                # A connection each, so the posts spread over the processes.
                response = await client.post(
                    "/webhooks/mparticle",
                    json=_shoppers(),
                    headers={"Connection": "close"},
                )
                assert response.status_code == 202
            await _wait_for(lambda: _count(database, Job), 0)
            metrics = (await client.get("/metrics")).text
        assert await _count(database, CachedRecommendation) == 8
    finally:
        assert server.kill(signal.SIGTERM) in (0, -signal.SIGTERM)

    log = server.log()
    # Two API processes without a worker, one job worker process.
    assert log.count("worker=False") == 2
    assert log.count("worker=True") == 1
    assert log.count("worker.started") == 1
    assert log.count("runtime.stopped") == 3
    # Any API process answers /metrics for all of them, whichever took a post.
    posts = [
        line
        for line in metrics.splitlines()
        if line.startswith("recloop_http_requests_total{")
        and 'route="/webhooks/mparticle"' in line
        and 'status="202"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in posts) == 4


@pytest.mark.parametrize(
    ("args", "setting", "worker_runs"),
    [
        ((), "false", False),
        (("--worker",), "false", True),
        (("--no-worker",), "true", False),
        ((), "true", True),
    ],
)
async def test_the_worker_setting_decides_unless_a_flag_overrides_it(
    database: Database, database_url: str, tmp_path: Path, args, setting, worker_runs
) -> None:
    server = _server(
        database_url, tmp_path, *args, RECLOOP_WORKER_ENABLED=setting
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            assert (await client.get("/readyz")).status_code == 200
    finally:
        server.stop()
    assert ("worker.started" in server.log()) is worker_runs
