"""Choosing the recommender from the settings."""

import pytest

from app.db import Database
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.factory import (
    RecommenderUnavailable,
    build_recommender,
    embedded_engine,
)
from app.recommenders.personalize import PersonalizeRecommender
from tests.fakes.personalize import CAMPAIGN_ARN


def test_embedded_is_the_default(make_settings, database_url):
    recommender = build_recommender(make_settings(), Database.from_url(database_url))

    assert isinstance(recommender, EmbeddedRecommender)
    assert embedded_engine(recommender) is recommender


def test_personalize_without_tracker_or_campaign_says_what_to_set(
    make_settings, database_url
):
    settings = make_settings(recommender="personalize")

    with pytest.raises(RecommenderUnavailable, match="RECLOOP_PERSONALIZE_TRACKING_ID"):
        build_recommender(settings, Database.from_url(database_url))


def test_personalize_keeps_an_embedded_model_for_before_the_campaign(
    make_settings, database_url, personalize_settings
):
    settings = make_settings(**personalize_settings())

    recommender = build_recommender(settings, Database.from_url(database_url))

    assert isinstance(recommender, PersonalizeRecommender)
    assert not recommender.has_campaign
    assert recommender.forwarder is not None
    assert isinstance(embedded_engine(recommender), EmbeddedRecommender)


def test_a_campaign_without_a_tracker_serves_but_forwards_nothing(
    make_settings, database_url, personalize_settings
):
    settings = make_settings(
        **personalize_settings(
            personalize_tracking_id=None, personalize_campaign_arn=CAMPAIGN_ARN
        )
    )

    recommender = build_recommender(settings, Database.from_url(database_url))

    assert recommender.has_campaign
    assert recommender.forwarder is None
