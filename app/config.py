"""Settings, read from the environment with the prefix ``RECLOOP_``."""

import re
from enum import StrEnum
from math import isfinite
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The actions mParticle spells in `product_action.action`. Anything else is a
# typo on the sender's side (`remove_from_wishlist` is the classic one) and is
# refused rather than silently dropped.
PRODUCT_ACTIONS = frozenset(
    {
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "checkout_option",
        "click",
        "view_detail",
        "purchase",
        "refund",
        "add_to_wishlist",
        "remove_from_wish_list",
        "unknown",
    }
)

# How much each stored event type says about a user's interest in an item.
# Zero means stored but ignored; a negative weight is a negative signal that
# cancels positive ones (a removal undoes the add; a refund outweighs the
# whole view-cart-purchase path). Types missing here weigh zero.
DEFAULT_EVENT_WEIGHTS = {
    "purchase": 4.0,
    "add_to_cart": 2.0,
    "add_to_wishlist": 1.5,
    "view_detail": 1.0,
    "remove_from_cart": -2.0,
    "refund": -8.0,
    "remove_from_wish_list": -1.5,
}

# The Events API's base URL in each mParticle data pod.
MPARTICLE_POD_URLS = {
    "US1": "https://s2s.mparticle.com/v2",
    "US2": "https://s2s.us2.mparticle.com/v2",
    "EU1": "https://s2s.eu1.mparticle.com/v2",
    "AU1": "https://s2s.au1.mparticle.com/v2",
}

# Values people paste from examples; refused as secrets in production.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "test"})


class Environment(StrEnum):
    development = "development"
    production = "production"


class MparticlePod(StrEnum):
    US1 = "US1"
    US2 = "US2"
    EU1 = "EU1"
    AU1 = "AU1"


class RecommenderKind(StrEnum):
    embedded = "embedded"
    personalize = "personalize"


class InvalidSettings(ValueError):
    """Raised when a setting has a value recloop cannot use."""


class UnsafeSettings(InvalidSettings):
    """Raised when the production environment is configured unsafely."""


# The pattern Personalize's API models give every ARN parameter.
PERSONALIZE_ARN_PATTERN = r"^arn:([a-z\d-]+):personalize:.*:.*:.+$"
PersonalizeArn = Annotated[str, Field(max_length=256, pattern=PERSONALIZE_ARN_PATTERN)]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECLOOP_", env_file=".env", extra="ignore"
    )

    # Process
    env: Environment = Environment.development
    database_url: str = "sqlite:///recloop.db"
    log_level: str = "INFO"
    log_json: bool | None = None

    # Ingest
    ingest_key: SecretStr | None = None
    ingest_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_bulk_batches: int = Field(default=100, ge=1)
    interaction_actions: Annotated[list[str], NoDecode] = Field(
        default=[
            "view_detail",
            "add_to_cart",
            "add_to_wishlist",
            "purchase",
            "remove_from_cart",
            "remove_from_wish_list",
            "refund",
        ]
    )
    event_weights: dict[str, float] = Field(default=DEFAULT_EVENT_WEIGHTS)
    recommendation_id_attribute: str = Field(default="recommendation_id", min_length=1)
    # Past this many ingest requests in flight, more are answered 429 with
    # Retry-After, so a burst sheds load instead of queueing without bound.
    # mParticle's SDK blocks its whole process for Retry-After: keep it small.
    ingest_max_in_flight: int = Field(default=64, ge=1)
    ingest_retry_after_seconds: int = Field(default=1, ge=1, le=60)
    # Amazon Kinesis Data Firehose HTTP endpoint delivery (off until the key
    # is set). Firehose buffers megabytes per request, so its own body limit.
    firehose_access_key: SecretStr | None = None
    firehose_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=256 * 1024, le=128 * 1024 * 1024
    )

    # Recommendations
    recommender: RecommenderKind = RecommenderKind.embedded
    recs_count: int = Field(default=5, ge=1, le=100)
    recs_max_age_seconds: int = Field(default=60, ge=0)
    # Items the user already viewed, carted or wishlisted are not shown again
    # (purchased ones never are); the quality measures rank the same way.
    recs_exclude_interacted: bool = True
    retrain_min_interval_seconds: float = Field(default=1.0, gt=0)
    # The embedded model retrains once this many interactions, and this share
    # of those it was trained on, arrived since; fold-in covers the meantime.
    retrain_min_new_interactions: int = Field(default=100, ge=1)
    retrain_min_new_fraction: float = Field(default=0.05, ge=0)
    # Overrides of the embedded model's parameters, as JSON: for example what
    # `recloop evaluate FILE.csv --tune` prints for a store's own data.
    embedded_params: dict[str, float | int | str] = Field(default_factory=dict)

    # Recommendation impact: a view, cart or purchase of a recommended item by
    # the same user this long after the list counts as its outcome.
    attribution_window_seconds: float = Field(default=86_400.0, gt=0)
    # Generated lists older than this are deleted (by worker processes).
    impact_retention_days: int = Field(default=90, ge=1)

    # Write-back to mParticle (off until the key and secret are set)
    mparticle_api_key: SecretStr | None = None
    mparticle_api_secret: SecretStr | None = None
    # The data pod picks the base URL; an explicit base URL wins.
    mparticle_pod: MparticlePod = MparticlePod.US1
    mparticle_base_url: str = MPARTICLE_POD_URLS["US1"]
    mparticle_environment: Literal["production", "development"] = "development"
    mparticle_timeout_seconds: float = Field(default=10.0, gt=0)
    # mParticle's default limit is about 270 batches a second; this process
    # stays below it in every one-second window.
    mparticle_max_batches_per_second: int = Field(default=200, ge=1, le=10_000)
    writeback_attribute: str = Field(default="product_recs", min_length=1)
    writeback_event_name: str = Field(default="recloop_recommendations", min_length=1)

    # Amazon Personalize (credentials come from the standard AWS chain only)
    personalize_tracking_id: (
        Annotated[str, Field(min_length=1, max_length=256)] | None
    ) = None
    personalize_campaign_arn: PersonalizeArn | None = None
    personalize_filter_arn: PersonalizeArn | None = None
    personalize_sims_campaign_arn: PersonalizeArn | None = None
    # Where `recloop personalize delete-users` and `import` work; unset, the
    # dataset group named RECLOOP_PERSONALIZE_NAME_PREFIX.
    personalize_dataset_group_arn: PersonalizeArn | None = None
    personalize_events_endpoint_url: str | None = None
    personalize_runtime_endpoint_url: str | None = None
    personalize_endpoint_url: str | None = None
    personalize_s3_endpoint_url: str | None = None
    personalize_region: str | None = None
    personalize_max_attempts: int = Field(default=3, ge=1, le=10)
    personalize_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    personalize_read_timeout_seconds: float = Field(default=5.0, gt=0)
    personalize_max_concurrency: int = Field(default=16, ge=1, le=256)
    # Sends each event type's weight (RECLOOP_EVENT_WEIGHTS) as eventValue; the
    # Interactions schema then has an EVENT_VALUE column.
    personalize_event_value: bool = False
    # Static contextual metadata for GetRecommendations, e.g. {"DEVICE": "web"}.
    personalize_context: dict[str, str] = Field(default_factory=dict)
    personalize_name_prefix: str = Field(
        default="recloop", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,39}$"
    )
    personalize_recipe_arn: PersonalizeArn = (
        "arn:aws:personalize:::recipe/aws-user-personalization"
    )

    # Worker and job queue
    worker_enabled: bool = True
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    worker_batch_size: int = Field(default=100, ge=1, le=500)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_base_seconds: float = Field(default=1.0, gt=0)
    job_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # A downstream outage (timeouts, 5xx, throttling) spends no attempts: the
    # job keeps backing off until it is this old, then goes dead.
    job_outage_max_hours: float = Field(default=72.0, gt=0)

    # Operations, security and privacy
    admin_key: SecretStr | None = None
    admin_secret: SecretStr | None = None
    recs_token: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default=[])
    raw_batch_retention_days: float = Field(default=30.0, ge=0)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    erasure_check_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: dict) -> dict:
        if isinstance(data, dict):
            for name in ("interaction_actions", "cors_origins"):
                if name in data:
                    data[name] = _split_csv(data[name])
        if isinstance(data, dict) and isinstance(data.get("mparticle_pod"), str):
            data["mparticle_pod"] = data["mparticle_pod"].strip().upper()
        return data

    @model_validator(mode="after")
    def _check_values(self) -> "Settings":
        unknown = sorted(set(self.interaction_actions) - PRODUCT_ACTIONS)
        if unknown:
            raise ValueError(
                f"RECLOOP_INTERACTION_ACTIONS has unknown product actions {unknown}"
            )
        not_finite = sorted(k for k, v in self.event_weights.items() if not isfinite(v))
        if not_finite:
            raise ValueError(f"RECLOOP_EVENT_WEIGHTS must be finite for {not_finite}")
        _check_personalize_context(self.personalize_context)
        if "mparticle_base_url" not in self.model_fields_set:
            self.mparticle_base_url = MPARTICLE_POD_URLS[self.mparticle_pod.value]
        return self

    @property
    def ingest_auth_enabled(self) -> bool:
        return self.ingest_key is not None and self.ingest_secret is not None

    @property
    def admin_auth_enabled(self) -> bool:
        return self.admin_key is not None and self.admin_secret is not None

    @property
    def writeback_enabled(self) -> bool:
        return (
            self.mparticle_api_key is not None and self.mparticle_api_secret is not None
        )

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return self.env is Environment.production

    def weight_of(self, event_type: str) -> float:
        """The event type's weight; an unlisted type never counts as interest."""
        return self.event_weights.get(event_type, 0.0)

    def check_production_safety(self) -> None:
        """Refuse settings that are fine on a laptop and unsafe in production."""
        if self.env is not Environment.production:
            return
        for name in ("ingest_key", "ingest_secret", "admin_key", "admin_secret"):
            _require_secret(name, getattr(self, name))
        _require_distinct(self.ingest_secret, self.admin_secret)
        if self.recs_token is not None:
            _require_secret("recs_token", self.recs_token)
        if self.writeback_enabled:
            for name in ("mparticle_api_key", "mparticle_api_secret"):
                _require_secret(name, getattr(self, name))
        if self.firehose_access_key is not None:
            _require_secret("firehose_access_key", self.firehose_access_key)
        if self.database_url.startswith("sqlite") and ":memory:" in self.database_url:
            raise UnsafeSettings(
                "RECLOOP_DATABASE_URL is an in-memory SQLite database, "
                "which loses every batch on restart"
            )


def _check_personalize_context(context: dict[str, str]) -> None:
    # GetRecommendations' limits: 150 entries, keys [A-Za-z0-9_] up to 150
    # characters, values up to 1000.
    name = "RECLOOP_PERSONALIZE_CONTEXT"
    if len(context) > 150:
        raise ValueError(f"{name} has {len(context)} entries; at most 150 are allowed")
    for key, value in context.items():
        if not re.fullmatch(r"[A-Za-z\d_]{1,150}", key):
            raise ValueError(f"{name} key {key[:40]!r} must be 1-150 of [A-Za-z0-9_]")
        if len(value) > 1000:
            raise ValueError(f"{name}[{key}] is over 1000 characters")


def _require_secret(name: str, value: SecretStr | None) -> None:
    env_name = f"RECLOOP_{name.upper()}"
    if value is None or not value.get_secret_value():
        raise UnsafeSettings(f"{env_name} must be set in production")
    if value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
        raise UnsafeSettings(f"{env_name} is a placeholder value; set a real secret")


def _require_distinct(ingest: SecretStr | None, admin: SecretStr | None) -> None:
    # Whoever can post events must not thereby be able to erase users.
    if ingest is not None and admin is not None and ingest == admin:
        raise UnsafeSettings(
            "RECLOOP_ADMIN_SECRET must differ from RECLOOP_INGEST_SECRET"
        )


def load_settings() -> Settings:
    """Settings from the environment, checked; errors name the variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise InvalidSettings(_describe(exc)) from None
    settings.check_production_safety()
    return settings


def _describe(exc: ValidationError) -> str:
    # The offending values are left out: they may be secrets.
    messages = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper()
        messages.append(f"RECLOOP_{name}: {error['msg']}" if name else error["msg"])
    return "; ".join(messages)
