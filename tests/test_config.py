import math

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_unlisted_event_types_weigh_nothing_and_negatives_are_allowed():
    settings = Settings(
        _env_file=None, event_weights={"purchase": 4.0, "refund": -8.0, "click": 0.0}
    )
    assert settings.weight_of("purchase") == 4.0
    assert settings.weight_of("refund") == -8.0
    assert settings.weight_of("click") == 0.0
    assert settings.weight_of("checkout") == 0.0


def test_default_weights_treat_removals_and_refunds_as_negative():
    settings = Settings(_env_file=None)
    assert settings.weight_of("remove_from_cart") < 0
    path = sum(
        settings.weight_of(t) for t in ("view_detail", "add_to_cart", "purchase")
    )
    assert path + settings.weight_of("refund") < 0


def test_a_weight_that_is_not_a_number_is_refused_by_name():
    with pytest.raises(ValidationError, match=r"finite for \['purchase'\]"):
        Settings(_env_file=None, event_weights={"purchase": math.nan})


def test_event_weights_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("RECLOOP_EVENT_WEIGHTS", '{"purchase": 5, "refund": -1}')
    settings = Settings(_env_file=None)
    assert settings.weight_of("purchase") == 5.0
    assert settings.weight_of("view_detail") == 0.0
