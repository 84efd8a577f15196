"""`recloop jobs`: inspect the job queue and put dead jobs back."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli_settings import command_settings
from app.db import Database
from app.models import Job, JobStatus
from app.worker import repository

T = TypeVar("T")


@click.group()
def jobs() -> None:
    """Inspect the job queue; replay dead jobs."""


@jobs.command("list")
@click.option("--dead", is_flag=True, help="Only dead jobs (same as --status dead).")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]))
@click.option("--kind", help="Only jobs of this kind (refresh, sync, ...).")
@click.option("--key", help="Only jobs with this key (an MPID for user jobs).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_jobs(
    dead: bool,
    status: str | None,
    kind: str | None,
    key: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, oldest first, with their last error."""
    if dead and status not in (None, JobStatus.dead):
        raise click.UsageError("--dead and --status disagree")
    where = repository.JobFilter(
        status=JobStatus.dead if dead else status, kind=kind, key=key, limit=limit
    )
    found = _run(lambda session: repository.list_jobs(session, where))
    for job in found:
        click.echo(json.dumps(job_summary(job)) if as_json else _line(job))
    if not as_json:
        click.echo(f"{len(found)} job(s)", err=True)


@jobs.command("replay")
@click.argument("job_id", type=int, required=False)
@click.option("--kind", help="Replay every dead job of this kind.")
def replay(job_id: int | None, kind: str | None) -> None:
    """Put a dead job (by id), or every dead job of a kind, back in the queue."""
    if (job_id is None) == (kind is None):
        raise click.UsageError("give either a JOB_ID or --kind, not both or neither")
    if kind is not None:
        count = _run(lambda session: repository.replay_kind(session, kind), write=True)
        click.echo(f"{count} dead {kind} job(s) back in the queue")
        return
    assert job_id is not None
    job = _run(lambda session: repository.replay(session, job_id), write=True)
    if job is None:
        raise click.ClickException(f"no dead job with id {job_id}")
    click.echo(f"job {job_id} ({job.kind} {job.key}) back in the queue")


def job_summary(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "key": job.key,
        "status": job.status,
        "attempts": job.attempts,
        "run_at": job.run_at.isoformat(),
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "last_error": job.last_error,
    }


def _line(job: Job) -> str:
    error = (job.last_error or "").replace("\n", " ")[:200]
    return (
        f"{job.id}\t{job.kind}\t{job.key}\t{job.status}\t"
        f"attempts={job.attempts}\t{job.updated_at:%Y-%m-%dT%H:%M:%SZ}\t{error}"
    )


def _run(query: Callable[[AsyncSession], Awaitable[T]], write: bool = False) -> T:
    settings = command_settings()

    async def run() -> T:
        database = Database.from_url(settings.database_url)
        try:
            transaction = database.write() if write else database.read()
            async with transaction as session:
                return await query(session)
        finally:
            await database.dispose()

    return asyncio.run(run())
