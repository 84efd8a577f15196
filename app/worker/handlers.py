"""What each kind of job does. A handler takes the jobs of its kind claimed
together and returns, per job, None on success or the exception it failed with."""

import asyncio
import uuid
from collections.abc import Sequence
from typing import Protocol

import structlog
from sqlalchemy import select

from app import metrics
from app.config import Settings
from app.db import Database
from app.integrations.mparticle.batches import recommendations_batch
from app.integrations.mparticle.client import (
    EventsApiClient,
    WritebackRejected,
    WritebackUnavailable,
)
from app.integrations.mparticle.packing import pack_requests
from app.models import CachedRecommendation
from app.models.base import utcnow
from app.recs.service import RecsService
from app.worker.errors import DownstreamUnavailable, PermanentJobError
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)

Outcomes = dict[int, Exception | None]

# Names the uuid5 keys of write-back batches: one list version of one user
# always goes out under the same keys, so a resend after a crash is a
# duplicate mParticle drops, never a second delivery.
WRITEBACK_NAMESPACE = uuid.UUID("0b6a3a8e-5f4e-4f0e-9d1c-2a7c3b9e8d51")


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
        batch = recommendations_batch(
            mpid=row.mpid,
            item_ids=_item_ids(row),
            recommendation_id=row.recommendation_id,
            source=row.source,
            environment=self._settings.mparticle_environment,
            attribute_name=self._settings.writeback_attribute,
            event_name=self._settings.writeback_event_name,
        )
        return with_stable_keys(batch, row.mpid, row.recommendation_id)

    async def _send(self, batches: list[dict]) -> Exception | None:
        try:
            async with metrics.observe_call("mparticle", "write_back"):
                await self._client.send(batches)
        except WritebackRejected as exc:
            return PermanentJobError(str(exc))
        except WritebackUnavailable as exc:
            return DownstreamUnavailable("mparticle", str(exc), exc.retry_after_seconds)
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


def with_stable_keys(batch: dict, mpid: int, recommendation_id: str) -> dict:
    """Key a write-back batch by the list it carries instead of at random."""
    version = f"{mpid}:{recommendation_id}"
    batch["source_request_id"] = str(uuid.uuid5(WRITEBACK_NAMESPACE, version))
    for position, event in enumerate(batch["events"]):
        event["data"]["source_message_id"] = str(
            uuid.uuid5(WRITEBACK_NAMESPACE, f"{version}:{position}")
        )
    return batch


def _item_ids(row: CachedRecommendation) -> list[str]:
    return [item["item_id"] for item in row.items]
