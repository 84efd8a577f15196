from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class CachedRecommendation(Base):
    """A user's current top-N, as served by GET /users/{mpid}/recs."""

    __tablename__ = "recommendations"

    mpid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # [{"item_id": "...", "score": 0.42}, ...], best first.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recommendation_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What mParticle last received, so an unchanged list is never re-sent.
    synced_item_ids: Mapped[list[str] | None] = mapped_column(JSON)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
