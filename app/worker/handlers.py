"""What each kind of job does. A handler takes the jobs of its kind claimed
together and returns, per job, None on success or the exception it failed with."""

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.integrations.mparticle.batches import recommendations_batch
from app.integrations.mparticle.client import (
    EventsApiClient,
    WritebackRejected,
    WritebackUnavailable,
)
from app.integrations.mparticle.packing import pack_requests
from app.integrations.personalize.forwarding import EventForwarder
from app.models import CachedRecommendation
from app.models.base import utcnow
from app.recs.service import RecsService
from app.worker.errors import PermanentJobError, RetryJobAfter
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)

Outcomes = dict[int, Exception | None]


class Handler(Protocol):
    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes: ...


class RefreshHandler:
    """Recompute each user's recommendations; the recs service queues write-back."""

    def __init__(self, recs: RecsService) -> None:
        self._recs = recs

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        results = await asyncio.gather(
            *(self._recs.refresh(int(job.key)) for job in jobs), return_exceptions=True
        )
        return {
            job.id: (result if isinstance(result, Exception) else None)
            for job, result in zip(jobs, results, strict=True)
        }


class PersonalizeEventHandler:
    """Send dead-lettered interactions to Personalize again (replayed jobs)."""

    def __init__(self, forwarder: EventForwarder) -> None:
        self._forwarder = forwarder

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        delivery = await self._forwarder.resend([job.key for job in jobs])
        return {
            job.id: PermanentJobError(delivery.refused[job.key])
            if job.key in delivery.refused
            else None
            for job in jobs
        }


class SyncHandler:
    """Write users' changed recommendations back to mParticle, several per request."""

    def __init__(
        self, database: Database, client: EventsApiClient, settings: Settings
    ) -> None:
        self._database = database
        self._client = client
        self._settings = settings

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        outcomes: Outcomes = {job.id: None for job in jobs}
        by_mpid = {int(job.key): job for job in jobs}
        pending = await self._changed_lists(list(by_mpid))
        batches = {mpid: self._batch(row) for mpid, row in pending.items()}
        for request in pack_requests(list(batches.items())):
            error = await self._send([batch for _, batch in request])
            mpids = [mpid for mpid, _ in request]
            if error is None:
                await self._mark_synced({mpid: pending[mpid] for mpid in mpids})
            for mpid in mpids:
                outcomes[by_mpid[mpid].id] = error
        return outcomes

    async def _changed_lists(self, mpids: list[int]) -> dict[int, CachedRecommendation]:
        async with self._database.read() as session:
            rows = await session.scalars(
                select(CachedRecommendation).where(CachedRecommendation.mpid.in_(mpids))
            )
            return {
                row.mpid: row for row in rows if _item_ids(row) != row.synced_item_ids
            }

    def _batch(self, row: CachedRecommendation) -> dict:
        return recommendations_batch(
            mpid=row.mpid,
            item_ids=_item_ids(row),
            recommendation_id=row.recommendation_id,
            source=row.source,
            environment=self._settings.mparticle_environment,
            attribute_name=self._settings.writeback_attribute,
            event_name=self._settings.writeback_event_name,
        )

    async def _send(self, batches: list[dict]) -> Exception | None:
        try:
            await self._client.send(batches)
        except WritebackRejected as exc:
            return PermanentJobError(str(exc))
        except WritebackUnavailable as exc:
            if exc.retry_after_seconds is not None:
                return RetryJobAfter(str(exc), exc.retry_after_seconds)
            return exc
        log.info("writeback.sent", batches=len(batches))
        return None

    async def _mark_synced(self, rows: dict[int, CachedRecommendation]) -> None:
        now = utcnow()
        async with self._database.write() as session:
            for mpid, sent in rows.items():
                row = await session.get(CachedRecommendation, mpid)
                if row is not None:
                    row.synced_item_ids = _item_ids(sent)
                    row.synced_at = now


def _item_ids(row: CachedRecommendation) -> list[str]:
    return [item["item_id"] for item in row.items]
