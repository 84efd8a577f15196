"""ORM tables, one module each. Importing this package registers them all."""

from app.models.base import Base
from app.models.batch import Batch
from app.models.erasure import Erasure
from app.models.impression import Impression
from app.models.interaction import Interaction
from app.models.job import Job, JobStatus
from app.models.model_snapshot import ModelSnapshot
from app.models.recommendation import CachedRecommendation
from app.models.served_recommendation import ServedRecommendation
from app.models.trainer_lease import TrainerLease

__all__ = [
    "Base",
    "Batch",
    "CachedRecommendation",
    "Erasure",
    "Impression",
    "Interaction",
    "Job",
    "JobStatus",
    "ModelSnapshot",
    "ServedRecommendation",
    "TrainerLease",
]
