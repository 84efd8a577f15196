"""What `recloop personalize provision` builds: deterministic names and shapes.

Every resource is named from one prefix, so a second run finds what the
first one made (or started making) instead of creating it again.
"""

import json
import re
from dataclasses import dataclass

from app.config import Settings

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
PURCHASE_FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'
# Personalize's published minimums for training a custom solution.
MIN_INTERACTIONS = 1000
MIN_USERS = 25
MIN_INTERACTIONS_PER_USER = 2


@dataclass(frozen=True)
class Plan:
    prefix: str
    recipe_arn: str
    event_value: bool
    auto_training: bool = True
    auto_training_days: int = 7
    min_provisioned_tps: int = 1

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> "Plan":
        plan = cls(
            prefix=settings.personalize_name_prefix,
            recipe_arn=settings.personalize_recipe_arn,
            event_value=settings.personalize_event_value,
            **options,  # type: ignore[arg-type]
        )
        plan.check()
        return plan

    def check(self) -> None:
        for name in (self.schema_name, self.solution_name, self.filter_name):
            if not NAME_PATTERN.match(name):
                raise ValueError(
                    f"Personalize name {name!r} must be 1-63 of [a-zA-Z0-9-_]; "
                    "shorten RECLOOP_PERSONALIZE_NAME_PREFIX"
                )
        if not 1 <= self.auto_training_days <= 30:
            raise ValueError("--auto-training-days must be 1-30")

    @property
    def dataset_group_name(self) -> str:
        return self.prefix

    @property
    def schema_name(self) -> str:
        # Schemas are named account-wide and cannot change: the weighted
        # shape gets a name of its own.
        suffix = "-weighted" if self.event_value else ""
        return f"{self.prefix}-interactions{suffix}"

    @property
    def dataset_name(self) -> str:
        return f"{self.prefix}-interactions"

    @property
    def tracker_name(self) -> str:
        return f"{self.prefix}-tracker"

    @property
    def filter_name(self) -> str:
        return f"{self.prefix}-exclude-purchased"

    @property
    def solution_name(self) -> str:
        recipe = self.recipe_arn.rsplit("/", 1)[-1].removeprefix("aws-")
        return f"{self.prefix}-{recipe}"

    @property
    def campaign_name(self) -> str:
        return self.solution_name

    def schema_json(self) -> str:
        return json.dumps(interactions_schema(self.event_value), separators=(",", ":"))

    def solution_params(self) -> dict[str, object]:
        params: dict[str, object] = {
            "recipeArn": self.recipe_arn,
            "performHPO": False,
            # Personalize defaults this to true: a billed training every
            # 7 days. recloop always says which one it wants.
            "performAutoTraining": self.auto_training,
        }
        if self.auto_training:
            expression = f"rate({self.auto_training_days} days)"
            params["solutionConfig"] = {
                "autoTrainingConfig": {"schedulingExpression": expression}
            }
        return params


def interactions_schema(event_value: bool) -> dict[str, object]:
    fields: list[dict[str, object]] = [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "SESSION_ID", "type": ["null", "string"]},
        {"name": "TIMESTAMP", "type": "long"},
    ]
    if event_value:
        fields.insert(3, {"name": "EVENT_VALUE", "type": "float"})
    return {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }


def schema_columns(event_value: bool) -> list[str]:
    return [str(f["name"]) for f in interactions_schema(event_value)["fields"]]  # type: ignore[index, union-attr]
