from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime


class Interaction(Base):
    """A user's action on one product: what every recommender learns from."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_mpid_occurred", "mpid", "occurred_at_ms"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The event's stable key plus the product's position in it: unique, so a
    # re-sent event can never become a second interaction.
    key: Mapped[str] = mapped_column(String(320), unique=True)
    event_key: Mapped[str] = mapped_column(String(300))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True
    )
    mpid: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(256), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(256))
    occurred_at_ms: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    transaction_id: Mapped[str | None] = mapped_column(String(256))
    # The list the user picked this item from, when the app says so.
    recommendation_id: Mapped[str | None] = mapped_column(String(64), index=True)
