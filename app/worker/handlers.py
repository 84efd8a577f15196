"""What each kind of job does. A handler takes the jobs of its kind claimed
together and returns, per job, None on success or the exception it failed with."""

from collections.abc import Sequence
from typing import Protocol

import structlog

from app.config import Settings
from app.db import Database
from app.integrations.mparticle.client import EventsApiClient
from app.integrations.mparticle.gate import WritebackGate
from app.integrations.mparticle.writeback import Writeback
from app.integrations.personalize.forwarding import EventForwarder
from app.recs.service import RecsService
from app.worker.errors import PermanentJobError
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
        outcomes = await self._recs.refresh_many([int(job.key) for job in jobs])
        return {job.id: _error(outcomes[int(job.key)]) for job in jobs}


def _error(outcome: bool | Exception) -> Exception | None:
    return outcome if isinstance(outcome, Exception) else None


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
    """Write users' changed recommendations back to mParticle (writeback.py)."""

    def __init__(
        self,
        database: Database,
        client: EventsApiClient,
        settings: Settings,
        gate: WritebackGate | None = None,
    ) -> None:
        # One gate per process: every send shares its rate and its pauses.
        self.gate = gate or WritebackGate(
            settings.mparticle_max_batches_per_second,
            settings.job_backoff_base_seconds,
            settings.job_backoff_max_seconds,
        )
        self._writeback = Writeback(database, client, self.gate, settings)

    async def __call__(self, jobs: Sequence[ClaimedJob]) -> Outcomes:
        return await self._writeback.deliver(jobs)
