import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Interaction, Job
from tests.fakes.personalize import FakePersonalize


async def interaction_keys(database) -> dict[str, Interaction]:
    async with database.read() as session:
        rows = (await session.scalars(select(Interaction))).all()
    return {row.key: row for row in rows}


async def unforwarded(database) -> int:
    async with database.read() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.forwarded_at.is_(None))
        )


async def jobs(database, **where: Any) -> list[Job]:
    async with database.read() as session:
        query = select(Job).filter_by(**where).order_by(Job.id)
        return list((await session.scalars(query)).all())


async def run_until_forwarded(app, database, deadline_seconds: float = 60) -> None:
    """Run due jobs until every interaction is forwarded and no job is left.

    Retries are scheduled a little later, so this waits between rounds; the
    deadline only bounds a broken run, it is not what the test asserts.
    """
    await run_until_no_jobs(app, database, deadline_seconds, forwarded=True)


async def run_until_no_jobs(
    app, database, deadline_seconds: float = 60, *, forwarded: bool = False
) -> None:
    """Run due jobs until none is left but dead ones (and, if asked, all forwarded)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        await app.run_jobs()
        live = [job for job in await jobs(database) if job.status != "dead"]
        if not live and (not forwarded or await unforwarded(database) == 0):
            return
        await asyncio.sleep(0.05)
    pytest.fail("jobs still live (or interactions unforwarded) at the deadline")


async def run_while_failing(
    app, database, fake: FakePersonalize, failed_requests: int
) -> None:
    """Run due jobs until the fake has answered `failed_requests` with an error.

    Stops at once if no job is left to retry; the deadline only bounds a
    broken run.
    """
    deadline = time.monotonic() + 60
    while fake.failed_requests < failed_requests:
        if not [job for job in await jobs(database) if job.status != "dead"]:
            pytest.fail("no job is left to retry while Personalize still fails")
        if time.monotonic() > deadline:
            pytest.fail(f"only {fake.failed_requests} requests failed by the deadline")
        await app.run_jobs()
        await asyncio.sleep(0.05)


def assert_calls_well_formed(fake: FakePersonalize) -> None:
    for request in fake.accepted("/events"):
        events = request.body["eventList"]
        assert 1 <= len(events) <= 10
        assert request.body["trackingId"] == fake.tracking_id


def sent_event_ids(fake: FakePersonalize) -> list[str]:
    return [event["eventId"] for _, _, event in fake.accepted_events]


@pytest.fixture
def s3_bucket(monkeypatch):
    """A bucket in moto's S3 server, reached over a real socket."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: each test starts empty.
    httpx.post(f"{url}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("RECLOOP_PERSONALIZE_S3_ENDPOINT_URL", url)
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket="recloop-history")
    yield client
    server.stop()


@pytest.fixture
def cli_env(monkeypatch, database_url, control_plane):
    """The environment `recloop personalize ...` commands read in tests."""
    for name, value in {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_PERSONALIZE_ENDPOINT_URL": control_plane.url,
        "RECLOOP_PERSONALIZE_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


async def recloop(*args: str):
    """Run a `recloop` command; it runs its own event loop, so in a thread."""
    from click.testing import CliRunner

    from app.cli import main

    return await asyncio.to_thread(CliRunner().invoke, main, list(args))
