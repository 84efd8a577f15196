"""A local server that speaks Personalize's control plane (JSON 1.1).

Real boto3 `personalize` clients reach it through
RECLOOP_PERSONALIZE_ENDPOINT_URL and call it by `X-Amz-Target`. Resources
move through the real statuses (CREATE PENDING, CREATE IN_PROGRESS, then
ACTIVE or CREATE FAILED with a failureReason; PENDING, IN_PROGRESS, then
COMPLETED or FAILED for data deletion jobs) a few describes apart; list
calls page two items at a time so the paginators are exercised. A data
deletion job reads its CSV of user ids from S3 (moto, when `s3` is set) as
the real one does, and fails if it cannot. Every request is recorded, so
tests can assert what a run created.
"""

import csv
import io
import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.personalize import use_dummy_aws_credentials
from tests.fakes.server import FakeHandler, FakeServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
PAGE_SIZE = 2
TARGET_PREFIX = "AmazonPersonalize."


class Error(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Spec:
    """How one kind of resource is named, scoped and described."""

    noun: str  # as in the operation names: CreateDatasetGroup -> DatasetGroup
    arn_part: str
    arn_key: str
    list_key: str
    describe_key: str
    parent_key: str | None = None  # the field that scopes List*
    name_key: str = "name"
    has_status: bool = True
    progression: tuple[str, ...] = ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    failed_status: str = "CREATE FAILED"


SPECS = {
    spec.noun: spec
    for spec in [
        Spec(
            "DatasetGroup",
            "dataset-group",
            "datasetGroupArn",
            "datasetGroups",
            "datasetGroup",
        ),
        Spec("Schema", "schema", "schemaArn", "schemas", "schema", has_status=False),
        Spec(
            "Dataset", "dataset", "datasetArn", "datasets", "dataset", "datasetGroupArn"
        ),
        Spec(
            "EventTracker",
            "event-tracker",
            "eventTrackerArn",
            "eventTrackers",
            "eventTracker",
            "datasetGroupArn",
        ),
        Spec("Filter", "filter", "filterArn", "Filters", "filter", "datasetGroupArn"),
        Spec(
            "Solution",
            "solution",
            "solutionArn",
            "solutions",
            "solution",
            "datasetGroupArn",
        ),
        Spec(
            "SolutionVersion",
            "solution",
            "solutionVersionArn",
            "solutionVersions",
            "solutionVersion",
            "solutionArn",
        ),
        Spec(
            "Campaign",
            "campaign",
            "campaignArn",
            "campaigns",
            "campaign",
            "solutionArn",
        ),
        Spec(
            "DatasetImportJob",
            "dataset-import-job",
            "datasetImportJobArn",
            "datasetImportJobs",
            "datasetImportJob",
            "datasetArn",
            name_key="jobName",
        ),
        Spec(
            "DataDeletionJob",
            "data-deletion-job",
            "dataDeletionJobArn",
            "dataDeletionJobs",
            "dataDeletionJob",
            "datasetGroupArn",
            name_key="jobName",
            progression=("PENDING", "IN_PROGRESS", "COMPLETED"),
            failed_status="FAILED",
        ),
    ]
}
# Where a resource's parent is named in its create request, for scoping.
PARENTS = {
    "Dataset": "datasetGroupArn",
    "EventTracker": "datasetGroupArn",
    "Filter": "datasetGroupArn",
    "Solution": "datasetGroupArn",
    "SolutionVersion": "solutionArn",
    "DatasetImportJob": "datasetArn",
    "Campaign": "solutionArn",
    "DataDeletionJob": "datasetGroupArn",
}
# The model's patterns, which botocore does not check but the service does.
JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
ROLE_ARN = re.compile(r"^arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
S3_LOCATION = re.compile(r"^s3://([^/]+)/(.+)$")


@dataclass
class Resource:
    spec: Spec
    arn: str
    fields: dict[str, Any]
    created: datetime
    describes: int = 0
    failure: str | None = None
    # The user ids a data deletion job read from its file.
    user_ids: list[str] = field(default_factory=list)

    @property
    def noun(self) -> str:
        return self.spec.noun

    def status(self, steps_per_status: int) -> str:
        progression = self.spec.progression
        index = min(self.describes // steps_per_status, len(progression) - 1)
        status = progression[index]
        if status == progression[-1] and self.failure:
            return self.spec.failed_status
        return status


@dataclass
class FakeControlPlane(FakeServer):
    # Describes a resource stays in each status before moving on.
    steps_per_status: int = 1
    # noun -> failureReason: resources of that kind end CREATE FAILED.
    failures: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # A boto3 S3 client (moto) that data deletion jobs read their file with.
    s3: Any = None

    def __post_init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._serve(_handler(self))

    def operations(self, prefix: str = "") -> list[str]:
        return [op for op, _ in self.requests if op.startswith(prefix)]

    def of(self, noun: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.noun == noun]

    def finish_all(self) -> None:
        """Move every resource to its final status, as time passing would."""
        for resource in self.resources.values():
            resource.describes = 10 * self.steps_per_status

    def answer(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        operation = target.removeprefix(TARGET_PREFIX)
        with self._lock:
            self.requests.append((operation, body))
            for verb in ("Create", "Describe", "List"):
                if operation.startswith(verb):
                    noun = operation.removeprefix(verb)
                    if verb == "List":
                        noun = noun.removesuffix("s")
                    if noun in SPECS:
                        return getattr(self, f"_{verb.lower()}")(SPECS[noun], body)
            raise Error("UnknownOperationException", operation)

    def _create(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get(spec.name_key) or f"v{next(self._ids)}"
        if spec.noun == "Campaign":
            # A campaign belongs to the solution of the version it deploys
            # ("<solution ARN>/<version id>" or "<solution ARN>/$LATEST").
            body = {**body, "solutionArn": body["solutionVersionArn"].rsplit("/", 1)[0]}
        parent = body.get(PARENTS.get(spec.noun, ""), "")
        self._check_create(spec, body, name, parent)
        arn = self._arn(spec, name, parent)
        resource = Resource(spec, arn, {**body, spec.name_key: name}, datetime.now(UTC))
        resource.failure = self.failures.get(spec.noun)
        if spec.noun == "DataDeletionJob":
            self._read_user_ids(resource)
        self.resources[arn] = resource
        answer = {spec.arn_key: arn}
        if spec.noun == "EventTracker":
            resource.fields["trackingId"] = f"tracking-{next(self._ids):04d}"
            answer["trackingId"] = resource.fields["trackingId"]
        return answer

    def _check_create(
        self, spec: Spec, body: dict[str, Any], name: str, parent: str
    ) -> None:
        if spec.noun in PARENTS and parent not in self.resources:
            raise Error("ResourceNotFoundException", f"{parent} not found", 404)
        if parent and self.resources[parent].status(self.steps_per_status) != "ACTIVE":
            raise Error("ResourceInUseException", f"{parent} is not ACTIVE")
        for existing in self.of(spec.noun):
            same_scope = existing.fields.get(PARENTS.get(spec.noun, ""), "") == parent
            if same_scope and existing.fields.get(spec.name_key) == name:
                raise Error("ResourceAlreadyExistsException", f"{name} already exists")
            if spec.noun == "EventTracker" and same_scope:
                raise Error("ResourceAlreadyExistsException", "group has a tracker")
        if spec.noun == "Solution" and "performAutoTraining" not in body:
            raise Error("InvalidInputException", "test: performAutoTraining not set")
        if spec.noun == "DataDeletionJob":
            _check_deletion_job(body, name)

    def _read_user_ids(self, job: Resource) -> None:
        location = job.fields["dataSource"]["dataLocation"]
        bucket, key = S3_LOCATION.match(location).groups()
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            job.failure = job.failure or f"Cannot read {location}: {exc}"
            return
        rows = list(csv.reader(io.StringIO(body.decode())))
        if not rows or rows[0] != ["USER_ID"] or any(len(r) != 1 for r in rows):
            job.failure = job.failure or "The input file must have one USER_ID column"
            return
        job.user_ids = [row[0] for row in rows[1:]]

    def _arn(self, spec: Spec, name: str, parent: str) -> str:
        if spec.noun == "SolutionVersion":
            return f"{parent}/{next(self._ids):08x}"
        return f"arn:aws:personalize:{REGION}:{ACCOUNT}:{spec.arn_part}/{name}"

    def _describe(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        resource = self.resources.get(body.get(spec.arn_key, ""))
        if resource is None or resource.noun != spec.noun:
            raise Error("ResourceNotFoundException", f"{body} not found", 404)
        resource.describes += 1
        return {spec.describe_key: self._view(spec, resource)}

    def _list(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        matching = [
            r
            for r in self.of(spec.noun)
            if spec.parent_key is None
            or r.fields.get(PARENTS.get(spec.noun, "")) == body.get(spec.parent_key)
        ]
        start = int(body.get("nextToken") or 0)
        page = matching[start : start + PAGE_SIZE]
        answer: dict[str, Any] = {spec.list_key: [self._view(spec, r) for r in page]}
        if start + PAGE_SIZE < len(matching):
            answer["nextToken"] = str(start + PAGE_SIZE)
        return answer

    def _view(self, spec: Spec, resource: Resource) -> dict[str, Any]:
        view = {
            **resource.fields,
            spec.arn_key: resource.arn,
            "creationDateTime": resource.created.timestamp(),
        }
        if spec.has_status:
            view["status"] = resource.status(self.steps_per_status)
            if view["status"] == spec.failed_status:
                view["failureReason"] = resource.failure
        if view.get("status") == "COMPLETED":
            view["numDeleted"] = len(resource.user_ids)
        return view


def _check_deletion_job(body: dict[str, Any], name: str) -> None:
    location = body.get("dataSource", {}).get("dataLocation", "")
    for value, pattern, field_name in (
        (name, JOB_NAME, "jobName"),
        (body.get("roleArn", ""), ROLE_ARN, "roleArn"),
        (location, S3_LOCATION, "dataSource.dataLocation"),
    ):
        if not pattern.match(value):
            raise Error("InvalidInputException", f"{field_name} {value!r} is invalid")


def _handler(fake: FakeControlPlane) -> type[FakeHandler]:
    class Handler(FakeHandler):
        def do_POST(self) -> None:
            raw = self.read_body()
            status, payload = 200, {}
            try:
                if not self.headers.get("authorization", "").startswith(
                    "AWS4-HMAC-SHA256"
                ):
                    raise Error("UnrecognizedClientException", "not signed", 403)
                payload = fake.answer(
                    self.headers.get("x-amz-target", ""), json.loads(raw)
                )
            except Error as error:
                status = error.status
                payload = {"__type": error.code, "message": error.message}
            content_type = {"content-type": "application/x-amz-json-1.1"}
            self.reply(status, json.dumps(payload).encode(), content_type)

    return Handler


@pytest.fixture
def control_plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeControlPlane]:
    use_dummy_aws_credentials(monkeypatch)
    fake = FakeControlPlane().start()
    yield fake
    fake.stop()
