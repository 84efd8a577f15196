"""Raw batch retention: a periodic job deletes batches past their time.

Interactions stay (they are what recommenders learn from, and erasure
removes them per user); the raw copy of what mParticle sent, identities and
attributes included, is kept only `RECLOOP_RAW_BATCH_RETENTION_DAYS`.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy import delete, select

from app import metrics
from app.config import Settings
from app.db import Database
from app.models import Batch
from app.models.base import utcnow
from app.privacy.repository import expire_anonymous_erasures
from app.worker import queue
from app.worker.handlers import Outcomes
from app.worker.kinds import RETENTION
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)

# Batches deleted per transaction: short transactions never hold up ingest.
DELETE_CHUNK_ROWS = 1000
RETENTION_KEY = "raw_batches"


class RetentionHandler:
    """Delete raw batches older than the retention, chunk by chunk.

    Safe with several workers: the job is one row claimed by one worker at a
    time, and each chunk deletes what is expired at that moment, so running
    it twice deletes nothing twice.
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        done: Outcomes = {job.id: None for job in jobs}
        if self._settings.raw_batch_retention_days == 0:
            return done
        cutoff = utcnow() - timedelta(days=self._settings.raw_batch_retention_days)
        deleted = 0
        while chunk := await self._delete_chunk(cutoff):
            deleted += chunk
        async with self._database.write() as session:
            await expire_anonymous_erasures(session, cutoff)
        metrics.RAW_BATCHES_EXPIRED.inc(deleted)
        log.info("retention.raw_batches_expired", batches=deleted)
        return done

    async def _delete_chunk(self, cutoff) -> int:
        async with self._database.write() as session:
            expired = (
                select(Batch.id)
                .where(Batch.received_at < cutoff)
                .order_by(Batch.id)
                .limit(DELETE_CHUNK_ROWS)
            )
            result = await session.execute(
                delete(Batch).where(Batch.id.in_(expired.scalar_subquery()))
            )
            return result.rowcount


async def schedule_retention(
    database: Database, settings: Settings, stopping: asyncio.Event
) -> None:
    """Queue the retention job now and every `retention_interval_seconds`.

    Every worker process runs this; the queue keeps one live job per key, so
    they add up to one job, not one each.
    """
    if settings.raw_batch_retention_days == 0:
        return
    while not stopping.is_set():
        try:
            async with database.write() as session:
                await queue.enqueue(session, RETENTION, [RETENTION_KEY])
        except Exception as exc:
            log.warning("retention.schedule_failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                stopping.wait(), timeout=settings.retention_interval_seconds
            )
