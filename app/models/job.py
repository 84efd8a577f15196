from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UtcDateTime


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    dead = "dead"


# At most one live job per (kind, key): this is what coalesces a burst of a
# user's events into one refresh. Dead jobs stay for inspection and do not
# block new work for the same user.
LIVE_JOB = text("status <> 'dead'")


class Job(Base):
    """A unit of background work, claimed by one worker at a time under a lease."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_kind_key_live",
            "kind",
            "key",
            unique=True,
            postgresql_where=LIVE_JOB,
            sqlite_where=LIVE_JOB,
        ),
        Index("ix_jobs_status_run_at", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.pending)
    # Set when new work for the key arrives while the job runs: the job is then
    # run once more instead of finishing, so no event is left unprocessed.
    rerun: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
