from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class ServedRecommendation(Base):
    """A list recloop generated for a user, kept to attribute what followed it."""

    __tablename__ = "served_recommendations"
    __table_args__ = (
        Index("ix_served_recommendations_mpid_generated", "mpid", "generated_at"),
        Index("ix_served_recommendations_generated_at", "generated_at"),
    )

    recommendation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mpid: Mapped[int] = mapped_column(BigInteger)
    # The item ids in the order they were recommended.
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime)
