"""Erasing a user: every row recloop holds about them, in one transaction."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import structlog
from sqlalchemy import delete, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Batch,
    CachedRecommendation,
    Erasure,
    Impression,
    Interaction,
    Job,
    ModelSnapshot,
    ServedRecommendation,
)
from app.models.base import utcnow

log = structlog.get_logger(__name__)

# A namespace for the per-user advisory locks that keep a refresh from
# caching a list for a user being erased at the same moment.
USER_LOCK_NAMESPACE = 0x7265


@dataclass(frozen=True, slots=True)
class ErasureSummary:
    interactions: int
    impressions: int
    batches: int
    recommendations: int
    served_lists: int
    jobs: int


async def lock_user(session: AsyncSession, mpid: int) -> None:
    """Serialize writes about one user with that user's erasure.

    SQLite write transactions already run one at a time; PostgreSQL takes a
    transaction-scoped advisory lock on the MPID.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:mpid))"),
            {"namespace": USER_LOCK_NAMESPACE, "mpid": str(mpid)},
        )


async def lock_users(session: AsyncSession, mpids: Sequence[int]) -> None:
    """`lock_user` for several users in one statement, in MPID order."""
    if session.bind.dialect.name == "postgresql" and mpids:
        await session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(:namespace, hashtext(mpid))) "
                "FROM (SELECT mpid FROM unnest(CAST(:mpids AS text[])) AS mpid "
                "ORDER BY mpid::bigint) AS ordered"
            ),
            {"namespace": USER_LOCK_NAMESPACE, "mpids": [str(m) for m in mpids]},
        )


async def erase_user(
    session: AsyncSession, mpid: int, *, keep_for_personalize: bool
) -> ErasureSummary:
    """Delete the user's interactions, impressions, raw batches, cached and
    served recommendations and jobs, and the models trained on them, and
    record the erasure."""
    await lock_user(session, mpid)
    # Jobs first: some are keyed by one of the user's interactions (a
    # dead-lettered event), the rest by the MPID; a job running now finds
    # its row gone and its result is discarded.
    interaction_keys = select(Interaction.key).where(Interaction.mpid == mpid)
    jobs = await _delete(
        session, Job, or_(Job.key == str(mpid), Job.key.in_(interaction_keys))
    )
    # Interactions and impressions before batches: they point at them.
    summary = ErasureSummary(
        interactions=await _delete(session, Interaction, Interaction.mpid == mpid),
        impressions=await _delete(session, Impression, Impression.mpid == mpid),
        batches=await _delete(session, Batch, Batch.mpid == mpid),
        recommendations=await _delete(
            session, CachedRecommendation, CachedRecommendation.mpid == mpid
        ),
        served_lists=await _delete(
            session, ServedRecommendation, ServedRecommendation.mpid == mpid
        ),
        jobs=jobs,
    )
    # Every saved embedded model learnt from the user: none may be loaded
    # again. The trainer retrains at once (app/privacy/forgetting.py); until
    # then a replica that restarts serves popular items.
    await session.execute(delete(ModelSnapshot))
    session.add(
        Erasure(
            mpid=mpid if keep_for_personalize else None,
            erased_at=utcnow(),
            personalize_pending=keep_for_personalize,
        )
    )
    # The MPID is not logged: logs outlive the erasure.
    log.info("privacy.user_erased", **asdict(summary))
    return summary


async def _delete(session: AsyncSession, model: type, condition) -> int:
    result = await session.execute(delete(model).where(condition))
    return result.rowcount
