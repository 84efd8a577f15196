"""The worker loop: claim due jobs, run them by kind, record each outcome."""

import asyncio
import contextlib
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.config import Settings
from app.db import Database
from app.models.base import utcnow
from app.worker import queue
from app.worker.errors import DownstreamUnavailable, PermanentJobError, RetryJobAfter
from app.worker.handlers import Handler, Outcomes
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)

# Leases are renewed this many times per lease period while jobs run, so a
# slow downstream never lets a live worker's job be taken over.
LEASE_RENEWALS_PER_PERIOD = 3


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, Handler],
        settings: Settings,
        worker_id: str | None = None,
        *,
        kinds: Collection[str] | None = None,
        skip_kinds: Collection[str] = (),
        batch_size: int | None = None,
        paused_for: Callable[[], float] | None = None,
    ) -> None:
        self._database = database
        self._handlers = handlers
        self._settings = settings
        self.worker_id = worker_id or default_worker_id()
        # A lane: the kinds this worker claims (None: all but `skip_kinds`).
        self._kinds = kinds
        self._skip_kinds = skip_kinds
        self._batch_size = batch_size or settings.worker_batch_size
        # Seconds the lane's service asked it to wait (a 429's Retry-After):
        # claiming jobs only to hand them back would just load the database.
        self._paused_for = paused_for
        self._stopping = asyncio.Event()
        self._in_hand: list[ClaimedJob] = []

    def stop(self) -> None:
        """Finish the jobs in hand, then return from `run`."""
        self._stopping.set()

    async def run(self) -> None:
        log.info("worker.started", worker_id=self.worker_id)
        try:
            await self._loop()
        except asyncio.CancelledError:
            # Shutdown ran out of time: hand the unfinished jobs back now
            # rather than leave them to wait for their lease to expire (which
            # is what happens anyway if the database is gone too).
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(self._in_hand))
            raise
        log.info("worker.stopped", worker_id=self.worker_id)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._paused_for is not None and (pause := self._paused_for()) > 0:
                await self._sleep(pause)
                continue
            try:
                handled = await self.run_once()
            except Exception:
                # A database blip must not kill the loop; the jobs it held
                # come back when their lease expires.
                log.exception("worker.cycle_failed")
                handled = 0
            if not handled:
                await self._sleep(self._settings.worker_poll_seconds)

    async def run_once(self) -> int:
        """Claim one round of due jobs and run them; returns how many were claimed."""
        async with self._database.write() as session:
            jobs = await queue.claim(
                session,
                self.worker_id,
                self._batch_size,
                self._settings.job_lease_seconds,
                kinds=self._kinds,
                skip_kinds=self._skip_kinds,
            )
        if not jobs:
            return 0
        self._in_hand = list(jobs)
        by_kind: dict[str, list[ClaimedJob]] = defaultdict(list)
        for job in jobs:
            by_kind[job.kind].append(job)
        renewing = asyncio.create_task(self._renew_leases())
        try:
            for kind, group in by_kind.items():
                await self._run_or_release(kind, group)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        self._in_hand = []
        return len(jobs)

    async def _run_or_release(self, kind: str, group: list[ClaimedJob]) -> None:
        if self._stopping.is_set():
            await self._release(group)
        else:
            outcomes = await self._run_group(kind, group)
            await self._record(group, outcomes)
        self._in_hand = [job for job in self._in_hand if job not in group]

    async def _renew_leases(self) -> None:
        interval = self._settings.job_lease_seconds / LEASE_RENEWALS_PER_PERIOD
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._database.write() as session:
                    await queue.extend_leases(
                        session, self._in_hand, self._settings.job_lease_seconds
                    )
            except Exception as exc:
                log.warning("worker.lease_renewal_failed", error=type(exc).__name__)

    async def _run_group(self, kind: str, jobs: Sequence[ClaimedJob]) -> Outcomes:
        handler = self._handlers.get(kind)
        if handler is None:
            error = PermanentJobError(f"no handler for job kind {kind!r}")
            return {job.id: error for job in jobs}
        try:
            return await handler(jobs)
        except Exception as exc:
            log.warning("worker.handler_failed", kind=kind, error=repr(exc))
            return {job.id: exc for job in jobs}

    async def _record(self, jobs: Sequence[ClaimedJob], outcomes: Outcomes) -> None:
        async with self._database.write() as session:
            for job in _in_lock_order(jobs):
                outcome = await self._record_one(session, job, outcomes.get(job.id))
                metrics.JOBS_FINISHED.labels(kind=job.kind, outcome=outcome).inc()

    async def _record_one(
        self, session: AsyncSession, job: ClaimedJob, error: Exception | None
    ) -> str:
        if error is None:
            await queue.complete(session, job)
            return "completed"
        reason = f"{type(error).__name__}: {error}"
        context = {"kind": job.kind, "key": job.key, "attempt": job.attempts}
        if isinstance(error, DownstreamUnavailable):
            return await self._outage(session, job, error, reason, context)
        if (
            isinstance(error, PermanentJobError)
            or job.attempts >= self._settings.job_max_attempts
        ):
            return await self._bury(session, job, reason, context)
        delay = queue.backoff_seconds(
            job.attempts,
            self._settings.job_backoff_base_seconds,
            self._settings.job_backoff_max_seconds,
        )
        if isinstance(error, RetryJobAfter):
            delay = max(delay, error.delay_seconds)
        await queue.retry_later(session, job, reason, delay)
        log.warning(
            "worker.job_retrying",
            error=reason,
            delay_seconds=round(delay, 2),
            **context,
        )
        return "retried"

    async def _outage(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        error: DownstreamUnavailable,
        reason: str,
        context: dict,
    ) -> str:
        waited = (utcnow() - job.created_at).total_seconds()
        if waited > self._settings.job_outage_max_hours * 3600:
            hours = round(waited / 3600, 1)
            reason = f"{error.target} unavailable for {hours} h; last: {reason}"
            return await self._bury(session, job, reason, context)
        delay = max(
            error.delay_seconds,
            queue.outage_backoff_seconds(
                waited,
                self._settings.job_backoff_base_seconds,
                self._settings.job_backoff_max_seconds,
            ),
        )
        await queue.retry_later(session, job, reason, delay, spend_attempt=False)
        log.warning(
            "worker.downstream_unavailable",
            target=error.target,
            error=reason,
            delay_seconds=round(delay, 2),
            **context,
        )
        return "deferred"

    async def _bury(
        self, session: AsyncSession, job: ClaimedJob, reason: str, context: dict
    ) -> str:
        await queue.bury(session, job, reason)
        log.error("worker.job_dead", error=reason, **context)
        return "dead"

    async def _release(self, jobs: Sequence[ClaimedJob]) -> None:
        if not jobs:
            return
        async with self._database.write() as session:
            for job in _in_lock_order(jobs):
                await queue.release(session, job)
        for job in jobs:
            metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="released").inc()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _in_lock_order(jobs: Sequence[ClaimedJob]) -> list[ClaimedJob]:
    # Enqueueing locks job rows in (kind, key) order; touching them in the
    # same order is what keeps PostgreSQL from finding a deadlock.
    return sorted(jobs, key=lambda job: (job.kind, job.key))
