from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime


class ModelSnapshot(Base):
    """A trained embedded model, so a restart or a new replica loads instead of
    retraining, and every process serves the model the trainer last saved."""

    __tablename__ = "model_snapshots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    format_version: Mapped[int] = mapped_column(Integer)
    # The highest interaction id the model was trained on.
    trained_through_id: Mapped[int] = mapped_column(BigInteger)
    interaction_count: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int] = mapped_column(Integer)
    training_seconds: Mapped[float] = mapped_column(Float)
    trained_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
