"""`recloop personalize delete-users`: erased users out of Personalize."""

import boto3
import pytest
from sqlalchemy import select

from app.integrations.personalize import cli
from app.integrations.personalize.clients import CONTROL, build_client
from app.integrations.personalize.provisioning.resources import (
    DATA_DELETION_JOB,
    ControlPlane,
    Poller,
)
from app.models import Erasure
from tests.admin.test_endpoints import ADMIN_AUTH
from tests.integrations.personalize.conftest import recloop

pytestmark = pytest.mark.anyio

BUCKET = "recloop-history"
FOLDER = f"s3://{BUCKET}/erasures/"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3Read"
# Long, distinctive MPIDs: if one is printed, the output shows it.
FIRST = 7_346_244_611_012_968_789
SECOND = -4_611_686_018_427_387_904
LATER = 1_152_921_504_606_846_976


def dataset_group(control_plane, name: str) -> str:
    personalize = boto3.client(
        "personalize", endpoint_url=control_plane.url, region_name="us-east-1"
    )
    arn = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    control_plane.finish_all()
    return arn


@pytest.fixture
def deletion_env(cli_env, control_plane, s3_bucket):
    """The dataset group provisioning names, and S3 that deletion jobs read."""
    control_plane.s3 = s3_bucket
    return dataset_group(control_plane, "recloop")


@pytest.fixture
async def erase(start_app):
    app = await start_app(
        admin_key=ADMIN_AUTH[0],
        admin_secret=ADMIN_AUTH[1],
        personalize_tracking_id="tracker-1",
    )

    async def erase(*mpids: int) -> None:
        for mpid in mpids:
            response = await app.client.delete(f"/users/{mpid}", auth=ADMIN_AUTH)
            assert response.status_code == 200

    return erase


async def delete_users(*options: str):
    result = await recloop(
        "personalize",
        "delete-users",
        "--s3-uri",
        FOLDER,
        "--role-arn",
        ROLE_ARN,
        "--poll-seconds",
        "0",
        *options,
    )
    for mpid in (FIRST, SECOND, LATER):
        assert str(mpid) not in result.output
    assert "recloop-test-secret" not in result.output
    return result


async def erasures(database) -> list[tuple[int | None, bool, str | None]]:
    async with database.read() as session:
        rows = await session.scalars(select(Erasure).order_by(Erasure.id))
        return [
            (row.mpid, row.personalize_pending, row.personalize_deletion_job)
            for row in rows
        ]


async def assert_a_second_job_deleted(control_plane, database, mpids, rows) -> None:
    """A new job, under a name of its own, deleted `mpids`; no MPID is kept."""
    first, second = control_plane.of("DataDeletionJob")
    assert second.fields["jobName"] != first.fields["jobName"]
    assert second.user_ids == [str(mpid) for mpid in mpids]
    assert await erasures(database) == [(None, False, None)] * rows


def files(s3) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


def interrupt_while(monkeypatch, status: str) -> None:
    """Ctrl-C the first time the deletion job is seen in `status`."""
    original = cli.ClickProgress.status

    def status_or_interrupt(self, label, name, seen, seconds):
        if (label, seen) == (DATA_DELETION_JOB.label, status):
            monkeypatch.setattr(cli.ClickProgress, "status", original)
            raise KeyboardInterrupt
        original(self, label, name, seen, seconds)

    monkeypatch.setattr(cli.ClickProgress, "status", status_or_interrupt)


async def test_erased_users_are_deleted_in_personalize_then_forgotten(
    deletion_env, erase, database, control_plane, s3_bucket
):
    await erase(FIRST, SECOND, FIRST)

    result = await delete_users()

    assert result.exit_code == 0, result.output
    assert "Personalize deleted the data of 2 erased users" in result.output
    [job] = control_plane.of("DataDeletionJob")
    name = job.fields["jobName"]
    assert job.user_ids == [str(SECOND), str(FIRST)]
    assert job.fields["datasetGroupArn"] == deletion_env
    assert job.fields["roleArn"] == ROLE_ARN
    assert job.fields["dataSource"] == {"dataLocation": f"{FOLDER}{name}.csv"}
    assert job.status(1) == "COMPLETED"
    assert name.startswith("recloop-delete-")
    assert await erasures(database) == [(None, False, None)] * 3
    assert files(s3_bucket) == []


async def test_an_interrupted_run_resumes_its_job_and_forgets_only_its_users(
    deletion_env, erase, database, control_plane, s3_bucket, monkeypatch
):
    await erase(FIRST, SECOND)
    interrupt_while(monkeypatch, "IN_PROGRESS")

    interrupted = await delete_users()
    # Erased while Personalize works on the job: not in its file.
    await erase(LATER, FIRST)
    control_plane.finish_all()
    resumed = await delete_users()

    assert interrupted.exit_code == 130, interrupted.output
    assert "run the same command again to resume" in interrupted.output
    assert resumed.exit_code == 0, resumed.output
    assert control_plane.operations("CreateDataDeletion") == ["CreateDataDeletionJob"]
    [job] = control_plane.of("DataDeletionJob")
    assert f"{job.fields['jobName']:<45} exists" in resumed.output
    assert job.user_ids == [str(SECOND), str(FIRST)]
    assert await erasures(database) == [
        (None, False, None),
        (None, False, None),
        (LATER, True, None),
        (FIRST, True, None),
    ]

    later = await delete_users()

    assert later.exit_code == 0, later.output
    await assert_a_second_job_deleted(control_plane, database, [LATER, FIRST], 4)
    assert files(s3_bucket) == []


async def test_a_run_stopped_before_its_job_existed_creates_that_job_next_time(
    deletion_env, erase, database, control_plane, s3_bucket
):
    await erase(FIRST)

    failed = await delete_users("--s3-uri", "s3://no-such-bucket/erasures/")
    [(_, _, name)] = await erasures(database)
    assert control_plane.of("DataDeletionJob") == []
    retried = await delete_users()

    assert failed.exit_code == 1
    assert f"upload to s3://no-such-bucket/erasures/{name}.csv failed" in failed.output
    assert "NoSuchBucket" in failed.output
    assert retried.exit_code == 0, retried.output
    [job] = control_plane.of("DataDeletionJob")
    assert (job.fields["jobName"], job.user_ids) == (name, [str(FIRST)])
    assert await erasures(database) == [(None, False, None)]


async def test_a_failed_job_reports_why_and_keeps_its_users_pending(
    deletion_env, erase, database, control_plane, s3_bucket
):
    await erase(FIRST, SECOND)
    control_plane.failures["DataDeletionJob"] = "Access denied to the input file"

    failed = await delete_users()

    assert failed.exit_code == 1
    [job] = control_plane.of("DataDeletionJob")
    assert f"{job.fields['jobName']} is FAILED: Access denied" in failed.output
    assert "its 2 users stay pending for the next run" in failed.output
    assert await erasures(database) == [(FIRST, True, None), (SECOND, True, None)]
    assert files(s3_bucket) == []

    del control_plane.failures["DataDeletionJob"]
    retried = await delete_users()

    assert retried.exit_code == 0, retried.output
    await assert_a_second_job_deleted(control_plane, database, [SECOND, FIRST], 2)


async def test_a_dry_run_counts_the_users_and_calls_nothing(
    deletion_env, erase, database, control_plane, s3_bucket
):
    await erase(FIRST, SECOND, FIRST)
    before = list(control_plane.requests)

    result = await recloop("personalize", "delete-users", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "dry run: 2 erased users would be deleted from Personalize" in result.output
    assert control_plane.requests == before
    assert files(s3_bucket) == []
    assert [job for *_, job in await erasures(database)] == [None] * 3


async def test_with_nobody_erased_it_says_so_and_calls_nothing(
    deletion_env, database, control_plane
):
    before = list(control_plane.requests)

    result = await delete_users()

    assert result.exit_code == 0, result.output
    assert "no erased users are waiting" in result.output
    assert control_plane.requests == before


async def test_the_s3_folder_and_role_are_required_and_checked(
    deletion_env, erase, database, control_plane
):
    await erase(FIRST)

    missing = await recloop("personalize", "delete-users", "--s3-uri", FOLDER)
    a_file = await recloop(
        "personalize",
        "delete-users",
        "--s3-uri",
        f"s3://{BUCKET}/users.csv",
        "--role-arn",
        ROLE_ARN,
    )

    assert missing.exit_code == 2
    assert "--s3-uri and --role-arn are required" in missing.output
    assert a_file.exit_code == 1
    assert "must be an S3 folder" in a_file.output
    assert control_plane.operations("Create") == ["CreateDatasetGroup"]


async def test_the_dataset_group_comes_from_the_settings_or_by_its_name(
    deletion_env, erase, database, control_plane, monkeypatch
):
    await erase(FIRST)
    monkeypatch.setenv("RECLOOP_PERSONALIZE_NAME_PREFIX", "unprovisioned")

    by_name = await delete_users()
    other = dataset_group(control_plane, "elsewhere")
    monkeypatch.setenv("RECLOOP_PERSONALIZE_DATASET_GROUP_ARN", other)
    from_settings = await delete_users()

    assert by_name.exit_code == 1
    assert "dataset group unprovisioned does not exist; run `recloop" in by_name.output
    assert from_settings.exit_code == 0, from_settings.output
    [job] = control_plane.of("DataDeletionJob")
    assert job.fields["datasetGroupArn"] == other


def test_jobs_are_found_across_pages_without_a_paginator(
    make_settings, control_plane, deletion_env
):
    settings = make_settings(
        personalize_endpoint_url=control_plane.url, personalize_region="us-east-1"
    )
    control = ControlPlane(
        build_client(settings, CONTROL), cli.ClickProgress(), Poller(0)
    )
    scope = {"datasetGroupArn": deletion_env}
    for n in range(3):
        control.create(
            DATA_DELETION_JOB,
            f"job-{n}",
            scope,
            **scope,
            dataSource={"dataLocation": f"{FOLDER}job-{n}.csv"},
            roleArn=ROLE_ARN,
        )

    found = control.find(DATA_DELETION_JOB, "job-2", **scope)

    assert found is not None
    assert found["jobName"] == "job-2"
    assert control_plane.operations("ListDataDeletion") == ["ListDataDeletionJobs"] * 2
