"""Write-back: users' changed lists go to mParticle as mParticle wants them.

Several users share one /bulkevents request; the gate keeps the rate below
mParticle's and pauses every send after a 429 (as long as Retry-After says)
or a failure (with backoff). A 429, a 5xx or no answer hands the jobs back
as a downstream outage, spending no attempt (they go dead only after
RECLOOP_JOB_OUTAGE_MAX_HOURS); 400, 401 and 403 are final, with mParticle's
message. The lists are read again right before each request, so a user
erased (or whose list changed) while the request waited is not sent.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update

from app import metrics
from app.config import Settings
from app.db import Database
from app.integrations.mparticle.batches import recommendations_batch
from app.integrations.mparticle.client import (
    EventsApiClient,
    WritebackRejected,
    WritebackThrottled,
    WritebackUnavailable,
)
from app.integrations.mparticle.gate import WritebackGate
from app.integrations.mparticle.packing import (
    MAX_BATCH_BYTES,
    MAX_BATCHES_PER_REQUEST,
    batch_bytes,
    pack_requests,
)
from app.models import CachedRecommendation
from app.models.base import utcnow
from app.worker.errors import DownstreamUnavailable, PermanentJobError
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)

# The downstream's name in job errors and metrics.
MPARTICLE = "mparticle"

Outcomes = dict[int, Exception | None]


@dataclass(frozen=True, slots=True)
class PendingList:
    """A user's list as loaded to send: what to check before and mark after."""

    mpid: int
    recommendation_id: str
    item_ids: list[str]
    batch: dict[str, Any]


class Writeback:
    def __init__(
        self,
        database: Database,
        client: EventsApiClient,
        gate: WritebackGate,
        settings: Settings,
    ) -> None:
        self._database = database
        self._client = client
        self._gate = gate
        self._settings = settings
        self._max_batches = min(
            MAX_BATCHES_PER_REQUEST, settings.mparticle_max_batches_per_second
        )

    async def deliver(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        """Send the changed lists of these sync jobs' users; outcomes per job."""
        job_ids = {int(job.key): job.id for job in jobs}
        if pause := self._gate.paused_for():
            return {job.id: _paused(pause) for job in jobs}
        by_mpid: dict[int, Exception | None] = dict.fromkeys(job_ids)
        pending = [self._pending(row) for row in await self._changed(list(job_ids))]
        sendable = []
        for item in pending:
            if batch_bytes(item.batch) > MAX_BATCH_BYTES:
                by_mpid[item.mpid] = PermanentJobError(
                    f"the batch for {item.mpid} is over mParticle's 128 KB limit"
                )
            else:
                sendable.append((item, item.batch))
        requests = [
            [item for item, _ in request]
            for request in pack_requests(sendable, max_batches=self._max_batches)
        ]
        by_mpid.update(await self._send_in_turn(requests))
        return {job_ids[mpid]: outcome for mpid, outcome in by_mpid.items()}

    async def _send_in_turn(
        self, requests: list[list[PendingList]]
    ) -> dict[int, Exception | None]:
        """Send the requests one by one; after a pause begins, defer the rest."""
        outcomes: dict[int, Exception | None] = {}
        for position, lists in enumerate(requests):
            outcomes.update(await self._send(lists))
            if pause := self._gate.paused_for():
                for later in requests[position + 1 :]:
                    outcomes.update({item.mpid: _paused(pause) for item in later})
                break
        return outcomes

    def _pending(self, row: CachedRecommendation) -> PendingList:
        item_ids = _item_ids(row)
        batch = recommendations_batch(
            mpid=row.mpid,
            item_ids=item_ids,
            recommendation_id=row.recommendation_id,
            source=row.source,
            environment=self._settings.mparticle_environment,
            attribute_name=self._settings.writeback_attribute,
            event_name=self._settings.writeback_event_name,
            now_ms=int(row.generated_at.timestamp() * 1000),
        )
        return PendingList(row.mpid, row.recommendation_id, item_ids, batch)

    async def _send(self, lists: list[PendingList]) -> dict[int, Exception | None]:
        async with self._gate.rate.sending(len(lists)):
            # Read again after the wait: an erased user's row is gone, and a
            # newer list re-queued its sync job, which sends that one instead.
            current = await self._still_pending(lists)
            outcomes: dict[int, Exception | None] = dict.fromkeys(
                (item.mpid for item in lists), None
            )
            if not current:
                return outcomes
            error = await self._post([item.batch for item in current])
        if error is None:
            await self._mark_synced(current)
        for item in current:
            outcomes[item.mpid] = error
        return outcomes

    async def _post(self, batches: list[dict[str, Any]]) -> Exception | None:
        try:
            async with metrics.observe_call(MPARTICLE, "write_back"):
                used_percent = await self._client.send(batches)
        except WritebackRejected as exc:
            return PermanentJobError(str(exc))
        except WritebackThrottled as exc:
            pause = self._gate.throttled(exc.retry_after_seconds)
            log.warning("writeback.throttled", pause_seconds=round(pause, 2))
            return DownstreamUnavailable(MPARTICLE, str(exc), pause)
        except WritebackUnavailable as exc:
            pause = self._gate.failed()
            log.warning(
                "writeback.failed", error=str(exc), pause_seconds=round(pause, 2)
            )
            return DownstreamUnavailable(MPARTICLE, str(exc), pause)
        self._gate.succeeded()
        log.info(
            "writeback.sent", batches=len(batches), rate_limit_used_percent=used_percent
        )
        return None

    async def _changed(self, mpids: list[int]) -> list[CachedRecommendation]:
        async with self._database.read() as session:
            rows = await session.scalars(
                select(CachedRecommendation).where(CachedRecommendation.mpid.in_(mpids))
            )
            return [row for row in rows if _item_ids(row) != row.synced_item_ids]

    async def _still_pending(self, lists: list[PendingList]) -> list[PendingList]:
        current = {
            row.mpid: row for row in await self._changed([i.mpid for i in lists])
        }
        return [
            item
            for item in lists
            if item.mpid in current
            and current[item.mpid].recommendation_id == item.recommendation_id
        ]

    async def _mark_synced(self, lists: list[PendingList]) -> None:
        now = utcnow()
        async with self._database.write() as session:
            for item in lists:
                await session.execute(
                    update(CachedRecommendation)
                    .where(
                        CachedRecommendation.mpid == item.mpid,
                        CachedRecommendation.recommendation_id
                        == item.recommendation_id,
                    )
                    .values(synced_item_ids=item.item_ids, synced_at=now)
                )


def _paused(seconds: float) -> DownstreamUnavailable:
    return DownstreamUnavailable(
        MPARTICLE, f"write-back is paused for {seconds:.1f} s", seconds
    )


def _item_ids(row: CachedRecommendation) -> list[str]:
    return [item["item_id"] for item in row.items]
