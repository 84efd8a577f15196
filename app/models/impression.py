from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime


class Impression(Base):
    """An item shown to a user in a product list (`product_impressions`).

    Kept apart from interactions: being shown an item is not a sign of
    interest, but what was shown and ignored is a signal recommenders use.
    """

    __tablename__ = "impressions"
    __table_args__ = (Index("ix_impressions_mpid_occurred", "mpid", "occurred_at_ms"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    key: Mapped[str] = mapped_column(String(320), unique=True)
    event_key: Mapped[str] = mapped_column(String(300))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True
    )
    mpid: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(256))
    list_name: Mapped[str | None] = mapped_column(String(256))
    session_id: Mapped[str | None] = mapped_column(String(256))
    occurred_at_ms: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
