import structlog

from app.config import RecommenderKind, Settings
from app.db import Database
from app.integrations.personalize.clients import EVENTS, RUNTIME, build_async_client
from app.recommenders.base import Recommender
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.personalize import PersonalizeRecommender

log = structlog.get_logger(__name__)


class RecommenderUnavailable(RuntimeError):
    """The configured recommender cannot be built with these settings."""


def build_recommender(settings: Settings, database: Database) -> Recommender:
    if settings.recommender is RecommenderKind.embedded:
        return EmbeddedRecommender(database, settings)
    return build_personalize(settings, database)


def build_personalize(settings: Settings, database: Database) -> PersonalizeRecommender:
    if not (settings.personalize_tracking_id or settings.personalize_campaign_arn):
        raise RecommenderUnavailable(
            "RECLOOP_RECOMMENDER=personalize needs RECLOOP_PERSONALIZE_TRACKING_ID "
            "(and, once trained, RECLOOP_PERSONALIZE_CAMPAIGN_ARN); "
            "`recloop personalize provision` prints both"
        )
    if not settings.personalize_tracking_id:
        log.warning(
            "config.personalize_events_off",
            reason="RECLOOP_PERSONALIZE_TRACKING_ID is unset; interactions are "
            "not forwarded and the campaign learns nothing new",
        )
    uses_runtime = bool(
        settings.personalize_campaign_arn or settings.personalize_sims_campaign_arn
    )
    return PersonalizeRecommender(
        settings,
        database,
        EmbeddedRecommender(database, settings),
        events=build_async_client(settings, EVENTS)
        if settings.personalize_tracking_id
        else None,
        runtime=build_async_client(settings, RUNTIME) if uses_runtime else None,
    )


def embedded_engine(recommender: Recommender) -> EmbeddedRecommender | None:
    """The embedded model a recommender trains and serves from, if it has one."""
    if isinstance(recommender, EmbeddedRecommender):
        return recommender
    if isinstance(recommender, PersonalizeRecommender):
        return recommender.embedded
    return None
