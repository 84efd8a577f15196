from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime

UNFORWARDED = text("forwarded_at IS NULL")
# Purchases and refunds carry a transaction id: a replayed one (the same
# transaction sent again under a new message id) must not count twice.
TRANSACTION_DEDUPED = text(
    "transaction_id IS NOT NULL AND event_type IN ('purchase', 'refund')"
)


class Interaction(Base):
    """A user's action on one product: what every recommender learns from."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_mpid_occurred", "mpid", "occurred_at_ms"),
        # Holds only what is still to send to Personalize, so it stays small
        # while forwarding keeps up.
        Index(
            "ix_interactions_unforwarded",
            "mpid",
            "occurred_at_ms",
            postgresql_where=UNFORWARDED,
            sqlite_where=UNFORWARDED,
        ),
        Index(
            "uq_interactions_transaction",
            "mpid",
            "transaction_id",
            "event_type",
            "item_id",
            unique=True,
            postgresql_where=TRANSACTION_DEDUPED,
            sqlite_where=TRANSACTION_DEDUPED,
        ),
    )

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
    # When the interaction left the forwarding queue for Amazon Personalize:
    # sent in a PutEvents call, dead-lettered as a `personalize_event` job
    # (whose replay sends it), or imported in bulk. NULL while still to send.
    forwarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
