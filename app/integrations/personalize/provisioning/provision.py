"""Find or create the whole Personalize chain, in order, resumably.

dataset group → schema → Interactions dataset → event tracker → filter →
solution → solution version (once the data minimums are met) → campaign.
Each step first looks for the resource by its deterministic name and waits
for it if it is still being created, so an interrupted run resumes where it
stopped and a run over a complete chain changes nothing.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from app.integrations.personalize.provisioning.plan import (
    MIN_INTERACTIONS,
    MIN_INTERACTIONS_PER_USER,
    MIN_USERS,
    PURCHASE_FILTER,
    Plan,
)
from app.integrations.personalize.provisioning.resources import (
    CAMPAIGN,
    DATASET,
    DATASET_GROUP,
    EVENT_TRACKER,
    FAILED,
    FILTER,
    SCHEMA,
    SOLUTION,
    SOLUTION_VERSION,
    ControlPlane,
    Kind,
    ProvisioningFailed,
)

# The settings that point recloop at what provisioning made.
ARN_SETTINGS = {
    DATASET_GROUP: "RECLOOP_PERSONALIZE_DATASET_GROUP_ARN",
    FILTER: "RECLOOP_PERSONALIZE_FILTER_ARN",
    CAMPAIGN: "RECLOOP_PERSONALIZE_CAMPAIGN_ARN",
}


@dataclass(frozen=True)
class DataCounts:
    """What recloop has sent to Personalize: the basis of the minimums check."""

    interactions: int
    users_with_enough: int

    @property
    def sufficient(self) -> bool:
        return (
            self.interactions >= MIN_INTERACTIONS
            and self.users_with_enough >= MIN_USERS
        )

    def explain(self) -> str:
        return (
            f"Personalize trains on at least {MIN_INTERACTIONS} interactions from at "
            f"least {MIN_USERS} users with {MIN_INTERACTIONS_PER_USER} or more each; "
            f"recloop has forwarded {self.interactions} interactions, "
            f"{self.users_with_enough} users have {MIN_INTERACTIONS_PER_USER} or more"
        )


@dataclass
class Outcome:
    """What exists now, and the settings that point recloop at it."""

    arns: dict[str, str] = field(default_factory=dict)
    tracking_id: str | None = None
    created: list[str] = field(default_factory=list)
    waiting_for_data: str | None = None

    def settings(self, plan: Plan, region: str | None) -> dict[str, str]:
        values = {"RECLOOP_RECOMMENDER": "personalize"}
        if region:
            values["RECLOOP_PERSONALIZE_REGION"] = region
        if self.tracking_id:
            values["RECLOOP_PERSONALIZE_TRACKING_ID"] = self.tracking_id
        for kind, setting in ARN_SETTINGS.items():
            if kind.label in self.arns:
                values[setting] = self.arns[kind.label]
        values["RECLOOP_PERSONALIZE_EVENT_VALUE"] = str(plan.event_value).lower()
        values["RECLOOP_PERSONALIZE_NAME_PREFIX"] = plan.prefix
        return values


class Provisioner:
    def __init__(
        self, control: ControlPlane, plan: Plan, *, dry_run: bool = False
    ) -> None:
        self.control = control
        self.plan = plan
        self.dry_run = dry_run
        self.outcome = Outcome()

    def run(self, data: DataCounts | None) -> Outcome:
        """Build the chain; `data` None skips the minimums check."""
        plan = self.plan
        group = self._ensure(DATASET_GROUP, plan.dataset_group_name, {}, {})
        schema = self._ensure_schema()
        in_group = {"datasetGroupArn": group} if group else None
        parent = in_group or {}
        self._ensure_dataset(in_group, schema)
        self._ensure_tracker(in_group)
        self._ensure(
            FILTER,
            plan.filter_name,
            in_group,
            {**parent, "filterExpression": PURCHASE_FILTER},
        )
        solution = self._ensure(
            SOLUTION, plan.solution_name, in_group, {**parent, **plan.solution_params()}
        )
        self._check_recipe(solution)
        version = self._ensure_version(solution, data)
        self._ensure_campaign(solution, version)
        return self.outcome

    def _ensure(
        self,
        kind: Kind,
        name: str,
        scope: dict[str, str] | None,
        params: dict[str, Any],
    ) -> str | None:
        """The ARN of the ACTIVE resource, found or created; None in a dry run."""
        found = None if scope is None else self.control.find(kind, name, **scope)
        if found is None:
            if self.dry_run or scope is None:
                self.control.progress.step(kind.label, name, "would create")
                return None
            arn = self.control.create(kind, name, scope, **params)
            self.outcome.created.append(kind.label)
        else:
            arn = found[kind.arn_key]
            self.control.progress.step(kind.label, name, "exists")
        if not self.dry_run:
            self.control.wait_ready(kind, name, arn)
        self.outcome.arns[kind.label] = arn
        return arn

    def _ensure_schema(self) -> str | None:
        name = self.plan.schema_name
        arn = self._ensure(SCHEMA, name, {}, {"schema": self.plan.schema_json()})
        if arn is not None:
            existing = json.loads(self.control.describe(SCHEMA, arn)["schema"])
            if existing != json.loads(self.plan.schema_json()):
                raise ProvisioningFailed(
                    f"schema {name} exists with other fields; choose another "
                    "RECLOOP_PERSONALIZE_NAME_PREFIX or delete that schema"
                )
        return arn

    def _ensure_dataset(
        self, in_group: dict[str, str] | None, schema: str | None
    ) -> None:
        params = {
            **(in_group or {}),
            "datasetType": "Interactions",
            "schemaArn": schema or "",
        }
        arn = self._ensure(DATASET, self.plan.dataset_name, in_group, params)
        if arn is None or schema is None:
            return
        used = self.control.describe(DATASET, arn).get("schemaArn")
        if used != schema:
            raise ProvisioningFailed(
                f"dataset {self.plan.dataset_name} uses schema {used}, not {schema}; "
                "RECLOOP_PERSONALIZE_EVENT_VALUE changed since it was created: "
                "use another RECLOOP_PERSONALIZE_NAME_PREFIX for the new shape"
            )

    def _ensure_tracker(self, in_group: dict[str, str] | None) -> None:
        # A dataset group has at most one event tracker: adopt whichever exists.
        name = self.plan.tracker_name
        if in_group is not None:
            trackers = self.control.list(EVENT_TRACKER, **in_group)
            if trackers:
                name = trackers[0]["name"]
        arn = self._ensure(EVENT_TRACKER, name, in_group, dict(in_group or {}))
        if arn is not None:
            tracker = self.control.describe(EVENT_TRACKER, arn)
            self.outcome.tracking_id = tracker.get("trackingId")

    def _check_recipe(self, solution: str | None) -> None:
        if solution is None:
            return
        recipe = self.control.describe(SOLUTION, solution).get("recipeArn")
        if recipe != self.plan.recipe_arn:
            raise ProvisioningFailed(
                f"solution {self.plan.solution_name} uses recipe {recipe}, not "
                f"{self.plan.recipe_arn}; use another RECLOOP_PERSONALIZE_NAME_PREFIX"
            )

    def _ensure_version(
        self, solution: str | None, data: DataCounts | None
    ) -> str | None:
        kind = SOLUTION_VERSION
        name = f"{self.plan.solution_name} (FULL)"
        versions = (
            [] if solution is None else self.control.list(kind, solutionArn=solution)
        )
        usable = [v for v in versions if v.get("status") not in FAILED]
        if usable:
            latest = max(usable, key=_created)
            return self._adopt_version(latest, name)
        if data is not None and not data.sufficient:
            self.outcome.waiting_for_data = data.explain()
            self.control.progress.step(kind.label, name, "waiting for data")
            return None
        if self.dry_run or solution is None:
            self.control.progress.step(kind.label, name, "would create")
            return None
        self.control.progress.step(kind.label, name, "creating")
        response = self.control.call(
            "Create solution version",
            lambda: self.control.client.create_solution_version(
                solutionArn=solution, trainingMode="FULL"
            ),
        )
        self.outcome.created.append(kind.label)
        return self._adopt_version(response, name)

    def _adopt_version(self, version: dict[str, Any], name: str) -> str:
        arn = version[SOLUTION_VERSION.arn_key]
        if "status" in version:
            self.control.progress.step(SOLUTION_VERSION.label, name, "exists")
        if not self.dry_run:
            self.control.wait_ready(SOLUTION_VERSION, name, arn)
        self.outcome.arns[SOLUTION_VERSION.label] = arn
        return arn

    def _ensure_campaign(self, solution: str | None, version: str | None) -> None:
        if version is None or solution is None:
            waiting = self.outcome.waiting_for_data is not None
            action = "waiting for data" if waiting else "would create"
            self.control.progress.step(CAMPAIGN.label, self.plan.campaign_name, action)
            return
        params: dict[str, Any] = {
            "solutionVersionArn": version,
            "minProvisionedTPS": self.plan.min_provisioned_tps,
        }
        if self.plan.auto_training:
            # Deploy whatever automatic training produces next, not only
            # the version that exists today.
            params["solutionVersionArn"] = f"{solution}/$LATEST"
            params["campaignConfig"] = {"syncWithLatestSolutionVersion": True}
        self._ensure(
            CAMPAIGN, self.plan.campaign_name, {"solutionArn": solution}, params
        )


def _created(summary: dict[str, Any]) -> tuple[bool, Any]:
    created = summary.get("creationDateTime")
    return created is not None, created
