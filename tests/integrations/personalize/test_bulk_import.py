"""`recloop personalize import` and `export-csv`: history into Personalize."""

import csv
import io

import pytest

from tests.batches import inbound_batch, product_event
from tests.integrations.personalize.conftest import recloop

pytestmark = pytest.mark.anyio

S3_URI = "s3://recloop-history/interactions.csv"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3Read"
HISTORY = (
    "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n"
    "1,A,purchase,1764700000\n"
    "2,B,view_detail,1764700100\n"
)


async def provisioned(control_plane) -> None:
    result = await recloop("personalize", "provision", "--poll-seconds", "0")
    assert result.exit_code == 0, result.output


async def import_history(*options: str):
    return await recloop(
        "personalize", "import", "--s3-uri", S3_URI, "--role-arn", ROLE_ARN, *options
    )


def history_file(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HISTORY)
    return path


def uploaded(s3) -> str:
    body = s3.get_object(Bucket="recloop-history", Key="interactions.csv")["Body"]
    return body.read().decode()


async def test_a_csv_is_uploaded_and_imported_once(
    cli_env, database, control_plane, s3_bucket, tmp_path
):
    await provisioned(control_plane)
    options = ["--file", str(history_file(tmp_path)), "--poll-seconds", "0"]

    first = await import_history(*options)
    again = await import_history(*options)

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert uploaded(s3_bucket) == HISTORY
    [job] = control_plane.of("DatasetImportJob")
    [dataset] = control_plane.of("Dataset")
    assert job.fields["dataSource"] == {"dataLocation": S3_URI}
    assert job.fields["roleArn"] == ROLE_ARN
    assert job.fields["importMode"] == "FULL"
    assert job.fields["datasetArn"] == dataset.arn
    assert job.status(1) == "ACTIVE"
    assert control_plane.operations("CreateDatasetImport") == ["CreateDatasetImportJob"]


async def test_without_a_file_the_store_is_exported_and_imported(
    cli_env, start_app, database, control_plane, s3_bucket
):
    app = await start_app()
    await app.client.post(
        "/v2/events",
        json=inbound_batch(5, product_event("purchase", "SKU-9", outbound=False)),
    )
    await provisioned(control_plane)

    result = await import_history("--mode", "INCREMENTAL", "--poll-seconds", "0")

    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(uploaded(s3_bucket))))
    assert rows[0] == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "SESSION_ID", "TIMESTAMP"]
    assert rows[1][:3] == ["5", "SKU-9", "purchase"]
    assert control_plane.of("DatasetImportJob")[0].fields["importMode"] == "INCREMENTAL"


async def test_a_failed_import_reports_the_service_reason(
    cli_env, database, control_plane, s3_bucket, tmp_path
):
    await provisioned(control_plane)
    control_plane.failures["DatasetImportJob"] = "Input CSV has no TIMESTAMP column"

    result = await import_history(
        "--file", str(history_file(tmp_path)), "--poll-seconds", "0"
    )

    assert result.exit_code == 1
    assert "CREATE FAILED: Input CSV has no TIMESTAMP column" in result.output


async def test_import_before_provisioning_says_what_to_run(
    cli_env, database, control_plane, s3_bucket, tmp_path
):
    result = await import_history("--file", str(history_file(tmp_path)))

    assert result.exit_code == 1
    assert "run `recloop personalize provision` first" in result.output
    assert control_plane.operations("Create") == []


async def test_a_bad_s3_uri_is_named(cli_env, database, control_plane, tmp_path):
    result = await recloop(
        "personalize", "import", "--s3-uri", "s3://bucket-only", "--role-arn", ROLE_ARN
    )

    assert result.exit_code == 1
    assert "--s3-uri 's3://bucket-only' must be s3://BUCKET/KEY" in result.output


async def test_export_writes_epoch_seconds_and_event_values(
    cli_env, monkeypatch, start_app, database, tmp_path
):
    app = await start_app()
    await app.client.post(
        "/v2/events",
        json=inbound_batch(
            7,
            product_event("purchase", "A", time_ms=1_764_700_000_999, outbound=False),
            product_event(
                "view_detail",
                "B",
                time_ms=1_764_700_001_000,
                outbound=False,
                session=None,
            ),
        ),
    )
    monkeypatch.setenv("RECLOOP_PERSONALIZE_EVENT_VALUE", "true")
    output = tmp_path / "out.csv"

    result = await recloop("personalize", "export-csv", "--output", str(output))

    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(output.read_text())))
    assert rows == [
        ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "SESSION_ID", "TIMESTAMP"],
        [
            "7",
            "A",
            "purchase",
            "4.0",
            "5e0c2b7e-1f0a-4f3e-8d8a-5b1f2c3d4e5f",
            "1764700000",
        ],
        ["7", "B", "view_detail", "1.0", "recloop-7-2025-12-02", "1764700001"],
    ]
