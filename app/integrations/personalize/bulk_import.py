"""Historical interactions into Personalize: upload a CSV to S3, import it.

The import job is named after the file's content, so running the command
again with the same file waits for the job it already started instead of
importing the data twice.
"""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from app.exceptions import RecloopError
from app.integrations.personalize.provisioning.plan import Plan
from app.integrations.personalize.provisioning.resources import (
    DATASET,
    DATASET_GROUP,
    IMPORT_JOB,
    ControlPlane,
)

# Parts of 16 MB, four at a time: memory stays near 64 MB whatever the size.
TRANSFER = TransferConfig(multipart_chunksize=16 * 1024 * 1024, max_concurrency=4)
IMPORT_MODES = ("FULL", "INCREMENTAL")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key or key.endswith("/"):
        raise ValueError(f"--s3-uri {uri!r} must be s3://BUCKET/KEY of a file")
    return bucket, key


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class UploadFailed(RecloopError):
    """A file could not be put in S3; the cause is S3's."""


def upload(s3: Any, path: Path, s3_uri: str, on_bytes: Callable[[int], None]) -> None:
    bucket, key = parse_s3_uri(s3_uri)
    try:
        s3.upload_file(str(path), bucket, key, Config=TRANSFER, Callback=on_bytes)
    except (S3UploadFailedError, ClientError, BotoCoreError) as exc:
        raise UploadFailed(f"upload to {s3_uri} failed: {exc}") from exc


def dataset_group_or_raise(
    control: ControlPlane, plan: Plan, group_arn: str | None
) -> str:
    """RECLOOP_PERSONALIZE_DATASET_GROUP_ARN, or else the group `provision` names."""
    return group_arn or control.arn_or_raise(DATASET_GROUP, plan.dataset_group_name)


def interactions_dataset_or_raise(
    control: ControlPlane, plan: Plan, group_arn: str | None
) -> str:
    group = dataset_group_or_raise(control, plan, group_arn)
    return control.arn_or_raise(DATASET, plan.dataset_name, datasetGroupArn=group)


def run_import(
    control: ControlPlane,
    dataset_arn: str,
    *,
    job_name: str,
    s3_uri: str,
    role_arn: str,
    mode: str,
) -> dict[str, Any]:
    """Find or start the dataset import job, and wait until it is done."""
    found = control.find(IMPORT_JOB, job_name, datasetArn=dataset_arn)
    if found is None:
        arn = control.create(
            IMPORT_JOB,
            job_name,
            {"datasetArn": dataset_arn},
            datasetArn=dataset_arn,
            dataSource={"dataLocation": s3_uri},
            roleArn=role_arn,
            importMode=mode,
        )
    else:
        arn = found[IMPORT_JOB.arn_key]
        control.progress.step(IMPORT_JOB.label, job_name, "exists")
    return control.wait_ready(IMPORT_JOB, job_name, arn)
