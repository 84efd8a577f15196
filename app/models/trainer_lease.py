from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class TrainerLease(Base):
    """Who may train a model right now: one holder per name until it expires.

    A holder renews the lease while it trains; a crashed holder's lease runs
    out and another process takes over.
    """

    __tablename__ = "trainer_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
