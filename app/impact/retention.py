"""Forgetting generated lists once they are too old to report on."""

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy import delete

from app.db import Database
from app.models import ServedRecommendation
from app.models.base import utcnow

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0


async def prune_served(database: Database, retention_days: int) -> int:
    """Delete lists generated more than `retention_days` ago; returns how many."""
    before = utcnow() - timedelta(days=retention_days)
    async with database.write() as session:
        result = await session.execute(
            delete(ServedRecommendation).where(
                ServedRecommendation.generated_at < before
            )
        )
    return result.rowcount or 0


async def run(database: Database, retention_days: int, stopping: asyncio.Event) -> None:
    """Prune once an hour until `stopping` is set."""
    while not stopping.is_set():
        try:
            deleted = await prune_served(database, retention_days)
            if deleted:
                log.info("impact.lists_pruned", deleted=deleted)
        except Exception:
            log.exception("impact.prune_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=PRUNE_INTERVAL_SECONDS)
