"""The worker loop: claim due jobs, run them by kind, record each outcome."""

import asyncio
import contextlib
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Database
from app.worker import queue
from app.worker.errors import DeferJob, PermanentJobError, RetryJobAfter
from app.worker.handlers import Handler, Outcomes
from app.worker.queue import ClaimedJob

log = structlog.get_logger(__name__)


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

    def stop(self) -> None:
        """Finish the jobs in hand, then return from `run`."""
        self._stopping.set()

    async def run(self) -> None:
        log.info("worker.started", worker_id=self.worker_id)
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
        log.info("worker.stopped", worker_id=self.worker_id)

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
        by_kind: dict[str, list[ClaimedJob]] = defaultdict(list)
        for job in jobs:
            by_kind[job.kind].append(job)
        for kind, group in by_kind.items():
            if self._stopping.is_set():
                await self._release(group)
                continue
            outcomes = await self._run_group(kind, group)
            await self._record(group, outcomes)
        return len(jobs)

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
            for job in jobs:
                await self._record_one(session, job, outcomes.get(job.id))

    async def _record_one(
        self, session: AsyncSession, job: ClaimedJob, error: Exception | None
    ) -> None:
        if error is None:
            await queue.complete(session, job)
            return
        reason = f"{type(error).__name__}: {error}"
        context = {"kind": job.kind, "key": job.key, "attempt": job.attempts}
        if isinstance(error, DeferJob):
            await queue.retry_later(
                session, job, reason, error.delay_seconds, use_attempt=False
            )
            log.info(
                "worker.job_deferred",
                delay_seconds=round(error.delay_seconds, 2),
                **context,
            )
            return
        if (
            isinstance(error, PermanentJobError)
            or job.attempts >= self._settings.job_max_attempts
        ):
            await queue.bury(session, job, reason)
            log.error("worker.job_dead", error=reason, **context)
            return
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

    async def _release(self, jobs: Sequence[ClaimedJob]) -> None:
        async with self._database.write() as session:
            for job in jobs:
                await queue.release(session, job)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
