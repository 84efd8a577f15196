"""Personalize's control plane as find, describe, create and wait.

Each kind of resource follows the same API pattern (`List*` scoped by its
parent, `Describe*`, `Create*`), so one table drives them all. Personalize
ships no waiters: `wait_ready` polls with capped exponential backoff.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from app.integrations.personalize.errors import PersonalizeError, error_code, translate

ACTIVE = "ACTIVE"
FAILED = frozenset({"CREATE FAILED", "CREATE STOPPED", "CREATE STOPPING"})
HOUR = 3600.0


class ProvisioningFailed(PersonalizeError):
    """A resource failed, is being deleted, or does not match the plan."""


class ResourceFailed(ProvisioningFailed):
    """A resource or job ended in a failed status, with the service's reason."""

    def __init__(self, message: str, description: dict[str, Any]) -> None:
        super().__init__(message)
        self.description = description


@dataclass(frozen=True)
class Kind:
    label: str
    noun: str
    list_key: str
    arn_key: str
    name_key: str = "name"
    has_status: bool = True
    timeout_seconds: float = HOUR
    # The status waiting ends with, and those that mean it never will.
    ready: str = ACTIVE
    failed: frozenset[str] = FAILED

    @property
    def describe_key(self) -> str:
        head, *rest = self.noun.split("_")
        return head + "".join(part.title() for part in rest)


DATASET_GROUP = Kind(
    "dataset group", "dataset_group", "datasetGroups", "datasetGroupArn"
)
SCHEMA = Kind("schema", "schema", "schemas", "schemaArn", has_status=False)
DATASET = Kind("dataset", "dataset", "datasets", "datasetArn")
EVENT_TRACKER = Kind(
    "event tracker", "event_tracker", "eventTrackers", "eventTrackerArn"
)
FILTER = Kind("filter", "filter", "Filters", "filterArn")
SOLUTION = Kind("solution", "solution", "solutions", "solutionArn")
SOLUTION_VERSION = Kind(
    "solution version",
    "solution_version",
    "solutionVersions",
    "solutionVersionArn",
    timeout_seconds=48 * HOUR,
)
CAMPAIGN = Kind("campaign", "campaign", "campaigns", "campaignArn")
IMPORT_JOB = Kind(
    "dataset import job",
    "dataset_import_job",
    "datasetImportJobs",
    "datasetImportJobArn",
    name_key="jobName",
    timeout_seconds=24 * HOUR,
)
# Personalize says deletion can take up to a day.
DATA_DELETION_JOB = Kind(
    "data deletion job",
    "data_deletion_job",
    "dataDeletionJobs",
    "dataDeletionJobArn",
    name_key="jobName",
    timeout_seconds=48 * HOUR,
    ready="COMPLETED",
    failed=frozenset({"FAILED"}),
)


class Progress(Protocol):
    """Where provisioning reports what it does, for a person to follow."""

    def step(self, label: str, name: str, action: str) -> None: ...

    def status(self, label: str, name: str, status: str, seconds: float) -> None: ...


@dataclass
class Poller:
    initial_seconds: float = 2.0
    max_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep


class ControlPlane:
    def __init__(self, client: Any, progress: Progress, poller: Poller) -> None:
        self.client = client
        self.progress = progress
        self.poller = poller

    @property
    def region(self) -> str | None:
        return self.client.meta.region_name

    def find(self, kind: Kind, name: str, **scope: str) -> dict[str, Any] | None:
        """The summary of the resource of this kind and name, or None."""
        return next(
            (
                item
                for item in self.list(kind, **scope)
                if item.get(kind.name_key) == name
            ),
            None,
        )

    def arn_or_raise(self, kind: Kind, name: str, **scope: str) -> str:
        found = self.find(kind, name, **scope)
        if found is None:
            raise ProvisioningFailed(
                f"{kind.label} {name} does not exist; run "
                "`recloop personalize provision` first"
            )
        return found[kind.arn_key]

    def list(self, kind: Kind, **scope: str) -> list[dict[str, Any]]:
        return self.call(
            f"List {kind.label}s",
            lambda: [
                item
                for page in self._pages(f"list_{kind.noun}s", scope)
                for item in page.get(kind.list_key, [])
            ],
        )

    def _pages(self, operation: str, scope: dict[str, str]) -> Iterator[dict]:
        if self.client.can_paginate(operation):
            yield from self.client.get_paginator(operation).paginate(**scope)
            return
        # Some listings (ListDataDeletionJobs) ship without a paginator.
        method = getattr(self.client, operation)
        page = method(**scope)
        yield page
        while token := page.get("nextToken"):
            page = method(**scope, nextToken=token)
            yield page

    def describe(self, kind: Kind, arn: str) -> dict[str, Any]:
        method = getattr(self.client, f"describe_{kind.noun}")
        response = self.call(
            f"Describe {kind.label}", lambda: method(**{kind.arn_key: arn})
        )
        return response[kind.describe_key]

    def create(
        self, kind: Kind, name: str, scope: dict[str, str], **params: Any
    ) -> str:
        """Create the resource; if another run just did, adopt that one."""
        method = getattr(self.client, f"create_{kind.noun}")
        self.progress.step(kind.label, name, "creating")
        try:
            response = method(**{kind.name_key: name}, **params)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise translate(exc, f"Create {kind.label} {name}") from exc
            found = self.find(kind, name, **scope)
            if found is None:
                raise translate(exc, f"Create {kind.label} {name}") from exc
            return found[kind.arn_key]
        return response[kind.arn_key]

    def wait_ready(self, kind: Kind, name: str, arn: str) -> dict[str, Any]:
        """Poll until ACTIVE (COMPLETED for a job); on failure raise
        ResourceFailed with the service's failureReason."""
        started = time.monotonic()
        delay = self.poller.initial_seconds
        while True:
            description = self.describe(kind, arn)
            status = kind.ready
            if kind.has_status:
                status = description.get("status", kind.ready)
            elapsed = time.monotonic() - started
            self.progress.status(kind.label, name, status, elapsed)
            if status == kind.ready:
                return description
            _raise_if_stuck(kind, name, description, elapsed)
            self.poller.sleep(delay)
            delay = min(self.poller.max_seconds, delay * 2)

    def call(self, operation: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as exc:
            raise translate(exc, operation) from exc


def _raise_if_stuck(
    kind: Kind, name: str, description: dict[str, Any], elapsed: float
) -> None:
    status = description.get("status", "")
    if status in kind.failed:
        reason = description.get("failureReason") or "no reason given"
        raise ResourceFailed(f"{kind.label} {name} is {status}: {reason}", description)
    if status.startswith("DELETE"):
        raise ProvisioningFailed(
            f"{kind.label} {name} is being deleted ({status}); run provision "
            "again once it is gone"
        )
    if elapsed > kind.timeout_seconds:
        raise ProvisioningFailed(
            f"{kind.label} {name} is still {status} after {elapsed / 60:.0f} min; "
            "run the same command again to keep waiting (it resumes)"
        )
