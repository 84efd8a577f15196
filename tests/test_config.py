"""Settings from the environment, and the production safety check."""

import math

import pytest
from pydantic import ValidationError

from app.config import Settings, UnsafeSettings


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"RECLOOP_{name.upper()}", value)
    return Settings(_env_file=None)


def test_defaults_need_no_configuration(monkeypatch) -> None:
    settings = _settings(monkeypatch)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.recommender.value == "embedded"
    assert settings.recs_count == 5
    assert settings.writeback_enabled is False
    assert settings.ingest_auth_enabled is False
    assert settings.mparticle_base_url == "https://s2s.mparticle.com/v2"
    settings.check_production_safety()


def test_contract_names_are_read_from_the_environment(monkeypatch) -> None:
    settings = _settings(
        monkeypatch,
        database_url="postgresql://u@db:5432/recloop",
        recommender="personalize",
        ingest_key="k",
        ingest_secret="s",
        mparticle_api_key="mk",
        mparticle_api_secret="ms",
        mparticle_base_url="https://s2s.eu1.mparticle.com/v2",
        mparticle_environment="production",
        personalize_tracking_id="track-1",
        personalize_campaign_arn="arn:aws:personalize:eu-west-1:1:campaign/c",
        personalize_filter_arn="arn:aws:personalize:eu-west-1:1:filter/f",
        personalize_events_endpoint_url="http://127.0.0.1:1",
        personalize_runtime_endpoint_url="http://127.0.0.1:2",
        recs_count="7",
    )
    assert settings.recommender.value == "personalize"
    assert settings.ingest_auth_enabled
    assert settings.writeback_enabled
    assert settings.mparticle_environment == "production"
    assert settings.personalize_tracking_id == "track-1"
    assert settings.personalize_runtime_endpoint_url == "http://127.0.0.1:2"
    assert settings.recs_count == 7


def test_secrets_do_not_show_in_reprs(monkeypatch) -> None:
    settings = _settings(monkeypatch, ingest_secret="hunter2-long-secret")
    assert "hunter2-long-secret" not in repr(settings)
    assert "hunter2-long-secret" not in str(settings.model_dump())


def test_interaction_actions_are_a_comma_separated_list(monkeypatch) -> None:
    settings = _settings(monkeypatch, interaction_actions="purchase, add_to_cart")
    assert settings.interaction_actions == ["purchase", "add_to_cart"]


def test_misspelled_product_actions_are_refused_naming_them(monkeypatch) -> None:
    with pytest.raises(ValidationError, match="remove_from_wishlist"):
        _settings(monkeypatch, interaction_actions="purchase,remove_from_wishlist")


def test_event_weights_are_json(monkeypatch) -> None:
    settings = _settings(
        monkeypatch, event_weights='{"purchase": 10, "view_detail": 1}'
    )
    assert settings.weight_of("purchase") == 10.0


@pytest.mark.parametrize(
    ("name", "value"),
    [("recs_count", "0"), ("recs_count", "101"), ("recommender", "random")],
)
def test_out_of_range_values_are_refused(monkeypatch, name, value) -> None:
    with pytest.raises(ValidationError, match=name):
        _settings(monkeypatch, **{name: value})


def test_production_refuses_to_run_without_ingest_credentials(monkeypatch) -> None:
    settings = _settings(monkeypatch, env="production", ingest_secret="a-real-secret")
    with pytest.raises(UnsafeSettings, match="RECLOOP_INGEST_KEY must be set"):
        settings.check_production_safety()


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "PASSWORD"])
def test_production_refuses_placeholder_secrets(monkeypatch, placeholder) -> None:
    settings = _settings(
        monkeypatch, env="production", ingest_key="key-1", ingest_secret=placeholder
    )
    with pytest.raises(UnsafeSettings, match="RECLOOP_INGEST_SECRET is a placeholder"):
        settings.check_production_safety()


SAFE_PRODUCTION = {
    "env": "production",
    "ingest_key": "key-1",
    "ingest_secret": "a-real-secret",
    "admin_key": "admin-1",
    "admin_secret": "another-real-secret",
}


def test_production_refuses_an_in_memory_database(monkeypatch) -> None:
    settings = _settings(
        monkeypatch, **SAFE_PRODUCTION, database_url="sqlite:///:memory:"
    )
    with pytest.raises(UnsafeSettings, match="RECLOOP_DATABASE_URL"):
        settings.check_production_safety()


def test_production_with_real_credentials_is_accepted(monkeypatch) -> None:
    settings = _settings(monkeypatch, **SAFE_PRODUCTION)
    settings.check_production_safety()
    assert settings.json_logs is True


@pytest.mark.parametrize(
    ("pod", "url"),
    [
        ("US1", "https://s2s.mparticle.com/v2"),
        ("us2", "https://s2s.us2.mparticle.com/v2"),
        ("EU1", "https://s2s.eu1.mparticle.com/v2"),
        ("AU1", "https://s2s.au1.mparticle.com/v2"),
    ],
)
def test_the_data_pod_picks_the_events_api_url(monkeypatch, pod, url) -> None:
    assert _settings(monkeypatch, mparticle_pod=pod).mparticle_base_url == url


def test_an_explicit_base_url_wins_over_the_pod(monkeypatch) -> None:
    settings = _settings(
        monkeypatch, mparticle_pod="EU1", mparticle_base_url="http://127.0.0.1:9/v2"
    )
    assert settings.mparticle_base_url == "http://127.0.0.1:9/v2"


def test_an_unknown_pod_is_refused_naming_it(monkeypatch) -> None:
    with pytest.raises(ValidationError, match="mparticle_pod"):
        _settings(monkeypatch, mparticle_pod="EU2")


def test_zero_and_negative_weights_are_allowed_and_refunds_never_count_as_interest(
    monkeypatch,
) -> None:
    defaults = _settings(monkeypatch)
    for action in ("refund", "remove_from_cart", "remove_from_wish_list"):
        assert action in defaults.interaction_actions
        assert defaults.weight_of(action) < 0
    assert defaults.weight_of("checkout") == 0.0
    custom = _settings(monkeypatch, event_weights='{"refund": 0, "purchase": 3}')
    assert custom.weight_of("refund") == 0.0


def test_weights_must_be_finite(monkeypatch) -> None:
    with pytest.raises(ValidationError, match="RECLOOP_EVENT_WEIGHTS"):
        Settings(_env_file=None, event_weights={"purchase": float("inf")})


def test_production_refuses_a_placeholder_firehose_key(monkeypatch) -> None:
    settings = _settings(monkeypatch, **SAFE_PRODUCTION, firehose_access_key="changeme")
    with pytest.raises(UnsafeSettings, match="RECLOOP_FIREHOSE_ACCESS_KEY"):
        settings.check_production_safety()


def test_unlisted_event_types_weigh_nothing_and_negatives_are_allowed() -> None:
    settings = Settings(
        _env_file=None, event_weights={"purchase": 4.0, "refund": -8.0, "click": 0.0}
    )
    assert settings.weight_of("purchase") == 4.0
    assert settings.weight_of("refund") == -8.0
    assert settings.weight_of("click") == 0.0
    assert settings.weight_of("checkout") == 0.0


def test_a_weight_that_is_not_a_number_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match=r"finite for \['purchase'\]"):
        Settings(_env_file=None, event_weights={"purchase": math.nan})


@pytest.mark.parametrize("missing", ["admin_key", "admin_secret"])
def test_production_refuses_to_run_without_admin_credentials(monkeypatch, missing):
    values = {k: v for k, v in SAFE_PRODUCTION.items() if k != missing}
    settings = _settings(monkeypatch, **values)
    with pytest.raises(UnsafeSettings, match=f"RECLOOP_{missing.upper()} must be set"):
        settings.check_production_safety()


def test_production_refuses_admin_credentials_shared_with_ingest(monkeypatch):
    settings = _settings(
        monkeypatch, **{**SAFE_PRODUCTION, "admin_secret": "a-real-secret"}
    )
    with pytest.raises(UnsafeSettings, match="RECLOOP_ADMIN_SECRET must differ"):
        settings.check_production_safety()


def test_production_refuses_a_placeholder_recs_token(monkeypatch) -> None:
    settings = _settings(monkeypatch, **SAFE_PRODUCTION, recs_token="changeme")
    with pytest.raises(UnsafeSettings, match="RECLOOP_RECS_TOKEN is a placeholder"):
        settings.check_production_safety()


def test_cors_origins_are_a_comma_separated_list(monkeypatch) -> None:
    settings = _settings(
        monkeypatch, cors_origins="https://shop.example, https://m.shop.example"
    )
    assert settings.cors_origins == ["https://shop.example", "https://m.shop.example"]
