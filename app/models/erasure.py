from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime


class Erasure(Base):
    """One DELETE /users/{mpid}: a watermark for models, a to-do for Personalize.

    The MPID is kept only while Amazon Personalize still has to be told to
    forget the user (`personalize_pending`); after that the row is anonymous:
    it says an erasure happened, so no model trained before it is used again.
    `personalize_deletion_job` names the data deletion job that carries the
    MPID, set before the job is created so that an interrupted
    `recloop personalize delete-users` resumes that job.
    """

    __tablename__ = "erasures"

    # Increases with every erasure: a model snapshot records the highest id
    # it has seen, and one older than the newest erasure is not loaded.
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    mpid: Mapped[int | None] = mapped_column(BigInteger)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    personalize_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Personalize's job names are at most 63 characters.
    personalize_deletion_job: Mapped[str | None] = mapped_column(String(63))
