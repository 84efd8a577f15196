from app.config import RecommenderKind, Settings
from app.db import Database
from app.recommenders.base import Recommender
from app.recommenders.embedded.engine import EmbeddedRecommender


class RecommenderUnavailable(RuntimeError):
    """The configured recommender cannot be built with these settings."""


def build_recommender(settings: Settings, database: Database) -> Recommender:
    if settings.recommender is RecommenderKind.embedded:
        return EmbeddedRecommender(database, settings)
    raise RecommenderUnavailable(
        "RECLOOP_RECOMMENDER=personalize is not available in this version; "
        "use RECLOOP_RECOMMENDER=embedded"
    )
