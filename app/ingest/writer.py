"""Group commit: the batches of concurrent requests share one transaction.

A commit waits for the disk (fsync on SQLite, the WAL flush on PostgreSQL),
and that wait is most of what storing a small batch costs. Requests that
arrive while a commit is under way join the next one: under load one commit
carries many requests; at light load a request waits for nothing but its
own. Every request still gets its 202 only after the commit that holds its
batches, and its own summary.
"""

import asyncio
from collections import deque
from dataclasses import dataclass

import structlog

from app.db import Database, is_transient
from app.ingest.schemas import IngestSummary
from app.ingest.service import IngestRequest, store_requests

log = structlog.get_logger(__name__)

# Batches in one transaction at most: bounds its size and the latency of the
# requests in it; more wait for the next one.
MAX_BATCHES_PER_COMMIT = 2000


@dataclass(slots=True)
class _Pending:
    request: IngestRequest
    done: asyncio.Future[IngestSummary]


class IngestWriter:
    def __init__(
        self, database: Database, attribution_window_seconds: float | None
    ) -> None:
        self._database = database
        self._attribution_window_seconds = attribution_window_seconds
        self._pending: deque[_Pending] = deque()
        self._arrived = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-writer")

    async def stop(self) -> None:
        """Commit what is waiting (and what is being committed), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._arrived.set()
        await self._task

    async def store(self, request: IngestRequest) -> IngestSummary:
        """Store the request's batches; returns once they are committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("the ingest writer is not running")
        done = asyncio.get_running_loop().create_future()
        # Read the outcome even when nobody waits for it any more (the sender
        # hung up), so asyncio does not report it as lost.
        done.add_done_callback(_observe)
        self._pending.append(_Pending(request, done))
        self._arrived.set()
        # A sender that hangs up does not cancel the commit: the batches are
        # stored anyway, and a retry finds them already there.
        return await asyncio.shield(done)

    async def _run(self) -> None:
        while not (self._stopping and not self._pending):
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                await self._commit(self._next_group())

    def _next_group(self) -> list[_Pending]:
        group = [self._pending.popleft()]
        size = len(group[0].request.batches)
        while self._pending:
            size += len(self._pending[0].request.batches)
            if size > MAX_BATCHES_PER_COMMIT:
                break
            group.append(self._pending.popleft())
        return group

    async def _commit(self, group: list[_Pending]) -> None:
        try:
            async with self._database.write() as session:
                summaries = await store_requests(
                    session,
                    [pending.request for pending in group],
                    self._attribution_window_seconds,
                )
        except Exception as exc:
            if len(group) > 1 and not is_transient(exc):
                # One request's rows broke the transaction: commit each alone,
                # so only that one fails.
                log.warning("ingest.group_commit_split", requests=len(group))
                for pending in group:
                    await self._commit([pending])
                return
            for pending in group:
                _settle(pending.done, exception=exc)
            return
        for pending, summary in zip(group, summaries, strict=True):
            _settle(pending.done, result=summary)


def _observe(done: asyncio.Future[IngestSummary]) -> None:
    if not done.cancelled():
        done.exception()


def _settle(
    done: asyncio.Future[IngestSummary],
    *,
    result: IngestSummary | None = None,
    exception: BaseException | None = None,
) -> None:
    if done.done():
        return
    if exception is not None:
        done.set_exception(exception)
    else:
        done.set_result(result)
