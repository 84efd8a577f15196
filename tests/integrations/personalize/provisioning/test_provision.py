"""`recloop personalize provision` against a control plane with real statuses."""

import json

import pytest

from app.integrations.personalize.clients import CONTROL, build_client
from app.integrations.personalize.provisioning.plan import Plan
from app.integrations.personalize.provisioning.provision import DataCounts, Provisioner
from app.integrations.personalize.provisioning.resources import ControlPlane, Poller
from app.models import Interaction
from app.models.base import utcnow
from tests.integrations.personalize.conftest import recloop

pytestmark = pytest.mark.anyio

CHAIN = [
    "DatasetGroup",
    "Schema",
    "Dataset",
    "EventTracker",
    "Filter",
    "Solution",
    "SolutionVersion",
    "Campaign",
]
ENOUGH = DataCounts(interactions=1000, users_with_enough=25)


async def provision_cli(*args: str):
    return await recloop("personalize", "provision", "--poll-seconds", "0", *args)


async def store_forwarded(database, users: int, per_user: int) -> None:
    now = utcnow()
    rows = [
        {
            "key": f"k-{u}-{i}",
            "event_key": f"k-{u}-{i}",
            "mpid": u,
            "item_id": f"SKU-{i}",
            "event_type": "view_detail",
            "occurred_at_ms": 1_764_700_000_000 + i,
            "received_at": now,
            "forwarded_at": now,
        }
        for u in range(users)
        for i in range(per_user)
    ]
    async with database.write() as session:
        await session.execute(Interaction.__table__.insert(), rows)


class Recorder:
    def __init__(self, interrupt_at: tuple[str, str] | None = None) -> None:
        self.lines: list[tuple[str, ...]] = []
        self.interrupt_at = interrupt_at

    def step(self, label: str, name: str, action: str) -> None:
        self.lines.append((label, name, action))

    def status(self, label: str, name: str, status: str, seconds: float) -> None:
        self.lines.append((label, name, status))
        if self.interrupt_at == (label, status):
            raise KeyboardInterrupt


def provisioner(make_settings, control_plane, progress, **plan_options) -> Provisioner:
    settings = make_settings(
        personalize_endpoint_url=control_plane.url, personalize_region="us-east-1"
    )
    control = ControlPlane(
        build_client(settings, CONTROL), progress, Poller(initial_seconds=0)
    )
    return Provisioner(control, Plan.from_settings(settings, **plan_options))


async def test_provision_builds_the_whole_chain_from_nothing(
    cli_env, database, control_plane, tmp_path
):
    await store_forwarded(database, users=25, per_user=40)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "RECLOOP_INGEST_KEY=kept\nRECLOOP_PERSONALIZE_TRACKING_ID=old\n"
    )

    result = await provision_cli("--env-file", str(env_file))

    assert result.exit_code == 0, result.output
    assert [
        op.removeprefix("Create") for op in control_plane.operations("Create")
    ] == CHAIN
    assert all(r.status(1) == "ACTIVE" for r in control_plane.resources.values())
    [tracker] = control_plane.of("EventTracker")
    [campaign] = control_plane.of("Campaign")
    [solution] = control_plane.of("Solution")
    assert solution.fields["performAutoTraining"] is True
    assert solution.fields["solutionConfig"] == {
        "autoTrainingConfig": {"schedulingExpression": "rate(7 days)"}
    }
    assert campaign.fields["solutionVersionArn"] == f"{solution.arn}/$LATEST"
    [schema] = control_plane.of("Schema")
    fields = [f["name"] for f in json.loads(schema.fields["schema"])["fields"]]
    assert fields == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "SESSION_ID", "TIMESTAMP"]
    expected = {
        "RECLOOP_RECOMMENDER": "personalize",
        "RECLOOP_PERSONALIZE_TRACKING_ID": tracker.fields["trackingId"],
        "RECLOOP_PERSONALIZE_CAMPAIGN_ARN": campaign.arn,
        "RECLOOP_PERSONALIZE_FILTER_ARN": control_plane.of("Filter")[0].arn,
        "RECLOOP_PERSONALIZE_DATASET_GROUP_ARN": control_plane.of("DatasetGroup")[
            0
        ].arn,
    }
    for key, value in expected.items():
        assert f"{key}={value}\n" in result.output
    written = env_file.read_text().splitlines()
    assert written[0] == "RECLOOP_INGEST_KEY=kept"
    assert f"RECLOOP_PERSONALIZE_TRACKING_ID={tracker.fields['trackingId']}" in written
    assert "RECLOOP_PERSONALIZE_TRACKING_ID=old" not in written


async def test_a_second_run_changes_nothing(cli_env, database, control_plane):
    await store_forwarded(database, users=25, per_user=40)
    first = await provision_cli()
    created = control_plane.operations("Create")

    second = await provision_cli()

    assert second.exit_code == 0, second.output
    assert control_plane.operations("Create") == created
    assert second.output.count(" exists") == len(CHAIN)
    assert first.output.splitlines()[-6:] == second.output.splitlines()[-6:]


@pytest.mark.parametrize(
    "interrupted_at",
    [
        ("dataset", "CREATE PENDING"),
        ("event tracker", "CREATE IN_PROGRESS"),
        ("solution version", "CREATE IN_PROGRESS"),
    ],
)
async def test_an_interrupted_run_resumes_where_it_stopped(
    make_settings, database, control_plane, interrupted_at
):
    control_plane.steps_per_status = 2
    with pytest.raises(KeyboardInterrupt):
        provisioner(make_settings, control_plane, Recorder(interrupted_at)).run(ENOUGH)
    partial = control_plane.operations("Create")

    outcome = provisioner(make_settings, control_plane, Recorder()).run(ENOUGH)

    created = control_plane.operations("Create")
    assert created[: len(partial)] == partial
    assert sorted(op.removeprefix("Create") for op in created) == sorted(CHAIN)
    assert "campaign" in outcome.arns
    assert (
        outcome.tracking_id == control_plane.of("EventTracker")[0].fields["trackingId"]
    )


async def test_dry_run_creates_nothing_and_shows_the_plan(
    cli_env, database, control_plane
):
    result = await provision_cli("--dry-run")

    assert result.exit_code == 0, result.output
    assert control_plane.operations("Create") == []
    # The store is empty: training waits for data, the rest would be created.
    assert result.output.count("would create") == len(CHAIN) - 2
    assert result.output.count("waiting for data") == 2
    assert "recloop has forwarded 0 interactions" in result.output


async def test_dry_run_over_a_partial_chain_shows_what_is_missing(
    make_settings, control_plane
):
    provisioner(make_settings, control_plane, Recorder()).run(
        DataCounts(interactions=10, users_with_enough=1)
    )
    recorder = Recorder()
    dry = provisioner(make_settings, control_plane, recorder)
    dry.dry_run = True
    created = control_plane.operations("Create")

    dry.run(ENOUGH)

    assert control_plane.operations("Create") == created
    actions = {label: action for label, _, action in recorder.lines}
    assert actions["solution"] == "exists"
    assert actions["solution version"] == "would create"
    assert actions["campaign"] == "would create"


async def test_too_little_data_stops_before_training_and_says_why(
    cli_env, database, control_plane
):
    await store_forwarded(database, users=30, per_user=1)

    result = await provision_cli()

    assert result.exit_code == 0, result.output
    assert "SolutionVersion" not in "".join(control_plane.operations("Create"))
    assert "Campaign" not in "".join(control_plane.operations("Create"))
    assert (
        "recloop has forwarded 30 interactions, 0 users have 2 or more" in result.output
    )
    tracker = control_plane.of("EventTracker")[0].fields["trackingId"]
    assert f"RECLOOP_PERSONALIZE_TRACKING_ID={tracker}" in result.output
    assert "RECLOOP_PERSONALIZE_CAMPAIGN_ARN" not in result.output


async def test_a_failed_training_stops_with_the_service_reason(
    cli_env, database, control_plane
):
    reason = (
        "Create failed. Dataset has fewer than 25 users with at least 2 "
        "interactions each."
    )
    control_plane.failures["SolutionVersion"] = reason

    result = await provision_cli("--skip-data-check")

    assert result.exit_code == 1
    version = "solution version recloop-user-personalization (FULL)"
    assert f"{version} is CREATE FAILED: {reason}" in result.output
    assert "Campaign" not in "".join(control_plane.operations("Create"))


async def test_without_auto_training_the_campaign_deploys_the_trained_version(
    make_settings, control_plane
):
    outcome = provisioner(
        make_settings, control_plane, Recorder(), auto_training=False
    ).run(None)

    [solution] = control_plane.of("Solution")
    [version] = control_plane.of("SolutionVersion")
    [campaign] = control_plane.of("Campaign")
    assert solution.fields["performAutoTraining"] is False
    assert "solutionConfig" not in solution.fields
    assert campaign.fields["solutionVersionArn"] == version.arn
    assert outcome.arns["campaign"] == campaign.arn


async def test_event_values_give_the_schema_an_event_value_column(
    make_settings, control_plane
):
    settings = make_settings(personalize_event_value=True)
    plan = Plan.from_settings(settings)

    fields = [f["name"] for f in json.loads(plan.schema_json())["fields"]]

    assert fields == [
        "USER_ID",
        "ITEM_ID",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "SESSION_ID",
        "TIMESTAMP",
    ]
    assert plan.schema_name == "recloop-interactions-weighted"
