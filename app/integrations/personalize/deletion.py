"""Erased users out of Personalize: the data deletion job of `delete-users`.

DELETE /users/{mpid} keeps an erased user's MPID while Personalize still
holds their data. Those MPIDs go to Personalize as a CSV with one USER_ID
column, uploaded to S3, and a data deletion job that reads it, waited for
until it is COMPLETED or FAILED.

The MPIDs are put in a job, by its name, in the database before anything
reaches AWS. A run that was interrupted finds that job again (by name, or
creates it if it never got that far) instead of starting another one, and
only the users in that job are forgotten when it completes: a user erased
meanwhile waits for the next run.
"""

import csv
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.db import Database
from app.integrations.personalize.bulk_import import parse_s3_uri
from app.integrations.personalize.provisioning.resources import (
    DATA_DELETION_JOB,
    ControlPlane,
)
from app.privacy import repository

USER_ID = "USER_ID"


@dataclass(frozen=True)
class DeletionJob:
    """A data deletion job's name and the distinct MPIDs it deletes."""

    name: str
    mpids: list[int]


def job_name(prefix: str, now: datetime | None = None) -> str:
    """A new job's name: the day it starts, and a random part to be unique.

    Personalize allows 63 characters; the prefix has at most 40.
    """
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"{prefix}-delete-{day}-{secrets.token_hex(3)}"


def folder_uri_or_raise(uri: str) -> str:
    """The --s3-uri folder as `s3://BUCKET/` or `s3://BUCKET/PREFIX/`."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or prefix.endswith(".csv"):
        raise ValueError(
            f"--s3-uri {uri!r} must be an S3 folder, s3://BUCKET/ or "
            "s3://BUCKET/PREFIX/; each job writes <job name>.csv in it"
        )
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"


def file_uri(folder_uri: str, name: str) -> str:
    """Where a job's CSV goes: one file per job in the folder.

    A deletion job given a folder reads every file in it; a file of its own
    keeps a later job from changing what an earlier one reads.
    """
    return f"{folder_uri}{name}.csv"


def write_user_ids(path: Path, mpids: Sequence[int]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([USER_ID])
        writer.writerows([str(mpid)] for mpid in mpids)


async def pending_users(database: Database) -> int:
    async with database.read() as session:
        return len(set(await repository.pending_personalize_deletions(session)))


async def next_job(database: Database, prefix: str) -> DeletionJob | None:
    """The job an earlier run started, else a new one for every pending MPID.

    None when no erased user is waiting for Personalize.
    """
    async with database.write() as session:
        name = await repository.personalize_deletion_in_progress(session)
        if name is None:
            name = job_name(prefix)
            if not await repository.assign_personalize_deletion(session, name):
                return None
        mpids = await repository.personalize_deletion_mpids(session, name)
    return DeletionJob(name, mpids)


async def finish(database: Database, name: str, *, completed: bool) -> None:
    """Forget the job's MPIDs once it completed, or keep them pending if it failed."""
    async with database.write() as session:
        if completed:
            await repository.mark_personalize_deleted(session, name)
        else:
            await repository.release_personalize_deletion(session, name)


def run_job(
    control: ControlPlane,
    job: DeletionJob,
    *,
    dataset_group_arn: str,
    data_location: Callable[[], str],
    role_arn: str,
) -> dict[str, Any]:
    """Find or create the data deletion job and wait until it is COMPLETED.

    `data_location` uploads the job's CSV and returns its URI; it is called
    only when the job does not exist yet. Raises ResourceFailed when the job
    FAILED.
    """
    scope = {"datasetGroupArn": dataset_group_arn}
    found = control.find(DATA_DELETION_JOB, job.name, **scope)
    if found is None:
        arn = control.create(
            DATA_DELETION_JOB,
            job.name,
            scope,
            **scope,
            dataSource={"dataLocation": data_location()},
            roleArn=role_arn,
        )
    else:
        arn = found[DATA_DELETION_JOB.arn_key]
        control.progress.step(DATA_DELETION_JOB.label, job.name, "exists")
    return control.wait_ready(DATA_DELETION_JOB, job.name, arn)


def remove_file(s3: Any, description: dict[str, Any]) -> str | None:
    """Delete the job's CSV of erased users' ids; the reason when that failed."""
    location = description.get("dataSource", {}).get("dataLocation", "")
    try:
        bucket, key = parse_s3_uri(location)
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:
        return f"{location}: {type(exc).__name__}: {exc}"
    return None
