"""`recloop jobs list` and `recloop jobs replay` against the real database."""

import asyncio
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.models import Job, JobStatus
from tests.worker.conftest import add_jobs

pytestmark = pytest.mark.anyio


@pytest.fixture
def recloop(database_url, monkeypatch):
    monkeypatch.setenv("RECLOOP_DATABASE_URL", database_url)

    async def invoke(*args: str):
        # The command runs its own event loop, as it does from a shell.
        return await asyncio.to_thread(CliRunner().invoke, main, list(args))

    return invoke


async def _statuses(database) -> dict[tuple[str, str], str]:
    async with database.read() as session:
        rows = await session.execute(select(Job.kind, Job.key, Job.status))
        return {(kind, key): status for kind, key, status in rows.all()}


async def test_list_dead_shows_only_dead_jobs_with_their_error(database, recloop):
    await add_jobs(database, "refresh", "1")
    await add_jobs(database, "sync", "7", dead=True)

    result = await recloop("jobs", "list", "--dead")

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "sync\t7\tdead" in lines[0]
    assert "sync 7 refused" in lines[0]


async def test_list_as_json_filters_by_kind(database, recloop) -> None:
    await add_jobs(database, "refresh", "1", "2")
    await add_jobs(database, "sync", "1")

    result = await recloop("jobs", "list", "--kind", "refresh", "--json")

    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["kind"], row["key"], row["status"]) for row in rows] == [
        ("refresh", "1", "pending"),
        ("refresh", "2", "pending"),
    ]


async def test_replay_one_job_by_id(database, recloop) -> None:
    await add_jobs(database, "sync", "7", "8", dead=True)
    async with database.read() as session:
        job_id = await session.scalar(select(Job.id).where(Job.key == "7"))

    result = await recloop("jobs", "replay", str(job_id))

    assert result.exit_code == 0, result.output
    assert f"job {job_id} (sync 7) back in the queue" in result.output
    assert await _statuses(database) == {
        ("sync", "7"): JobStatus.pending,
        ("sync", "8"): JobStatus.dead,
    }


async def test_replay_every_dead_job_of_a_kind(database, recloop) -> None:
    await add_jobs(database, "sync", "7", "8", dead=True)
    await add_jobs(database, "refresh", "7", dead=True)

    result = await recloop("jobs", "replay", "--kind", "sync")

    assert "2 dead sync job(s) back in the queue" in result.output
    assert await _statuses(database) == {
        ("sync", "7"): JobStatus.pending,
        ("sync", "8"): JobStatus.pending,
        ("refresh", "7"): JobStatus.dead,
    }


async def test_replay_of_an_unknown_job_fails_naming_it(database, recloop) -> None:
    result = await recloop("jobs", "replay", "424242")
    assert result.exit_code != 0
    assert "no dead job with id 424242" in result.output


async def test_replay_needs_an_id_or_a_kind(database, recloop) -> None:
    result = await recloop("jobs", "replay")
    assert result.exit_code == 2
    assert "JOB_ID or --kind" in result.output
