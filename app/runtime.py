"""Everything a recloop process runs besides HTTP: the database, the
recommender, the write-back client, the worker and the model retrainer.

`recloop serve` starts it inside the app's lifespan; `recloop worker` starts
it alone. Shutdown finishes the jobs in hand before closing connections.
"""

import asyncio
import contextlib

import structlog

from app.config import Settings
from app.db import Database
from app.impact import retention as impact_retention
from app.ingest.writer import IngestWriter
from app.integrations.mparticle.client import EventsApiClient
from app.integrations.mparticle.packing import MAX_BATCHES_PER_REQUEST
from app.privacy.forgetting import ErasureWatcher
from app.privacy.retention import RetentionHandler, schedule_retention
from app.recommenders.base import Recommender
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.embedded.retraining import Retrainer
from app.recommenders.factory import build_recommender, embedded_engine
from app.recommenders.personalize import PersonalizeRecommender
from app.recs.cache import cache_reader
from app.recs.service import RecsService
from app.worker.handlers import (
    Handler,
    PersonalizeEventHandler,
    RefreshHandler,
    SyncHandler,
)
from app.worker.kinds import PERSONALIZE_EVENT, REFRESH, RETENTION, SYNC
from app.worker.runner import Worker, default_worker_id

log = structlog.get_logger(__name__)

# How long shutdown waits for jobs in hand before abandoning them to their
# lease (another worker takes them over when it expires).
SHUTDOWN_GRACE_SECONDS = 20.0


class Runtime:
    def __init__(self, settings: Settings, *, run_worker: bool) -> None:
        self.settings = settings
        self.run_worker = run_worker
        self.database = Database.from_url(settings.database_url)
        self.recommender: Recommender = build_recommender(settings, self.database)
        self.cache = cache_reader(self.database, settings.database_url)
        self.recs = RecsService(self.database, self.recommender, settings, self.cache)
        self.ingest_writer = IngestWriter(
            self.database, settings.attribution_window_seconds
        )
        self.writeback = _writeback_client(settings)
        handlers = self._handlers()
        sync = handlers.pop(SYNC, None)
        self.worker = Worker(
            self.database, handlers, settings, skip_kinds={SYNC} if sync else ()
        )
        self.workers = [self.worker]
        self.writeback_gate = sync.gate if isinstance(sync, SyncHandler) else None
        if sync is not None:
            self.workers.append(self._writeback_lane(sync))
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            REFRESH: RefreshHandler(self.recs),
            RETENTION: RetentionHandler(self.database, self.settings),
        }
        if self.writeback is not None:
            handlers[SYNC] = SyncHandler(self.database, self.writeback, self.settings)
        forwarder = getattr(self.recommender, "forwarder", None)
        if forwarder is not None:
            handlers[PERSONALIZE_EVENT] = PersonalizeEventHandler(forwarder)
        return handlers

    def _writeback_lane(self, sync: Handler) -> Worker:
        # Write-back waits on mParticle (its rate, its pauses, slow answers)
        # in a lane of its own, so refreshes never wait behind it.
        return Worker(
            self.database,
            {SYNC: sync},
            self.settings,
            f"{default_worker_id()}:writeback",
            kinds={SYNC},
            batch_size=MAX_BATCHES_PER_REQUEST,
            paused_for=self.writeback_gate.paused_for if self.writeback_gate else None,
        )

    async def start(self) -> None:
        self.ingest_writer.start()
        await self.recommender.start()
        engine = embedded_engine(self.recommender)
        if engine is not None:
            await self._start_embedded(engine)
        if self.run_worker:
            for worker in self.workers:
                self._spawn(worker.run(), worker.worker_id)
            self._spawn(
                impact_retention.run(
                    self.database, self.settings.impact_retention_days, self._stopping
                ),
                "impact-retention",
            )
            self._spawn(
                schedule_retention(self.database, self.settings, self._stopping),
                "retention-scheduler",
            )
        log.info(
            "runtime.started",
            recommender=self.settings.recommender.value,
            worker=self.run_worker,
            writeback=self.writeback is not None,
        )

    async def _start_embedded(self, engine: EmbeddedRecommender) -> None:
        # Workers train (one at a time, under a lease); API-only replicas
        # load the snapshots the trainer saves.
        retrainer = Retrainer(
            engine,
            self.database,
            self.settings,
            train=self.run_worker,
            refresh_users=_embedded_serves(self.recommender),
        )
        if self.run_worker:
            # Noted before the first training, so an erasure committed while
            # the model trains still triggers a retrain.
            forgetting = ErasureWatcher(
                self.database,
                retrainer.retrain_now,
                self.settings.erasure_check_seconds,
            )
            await forgetting.start()
            self._spawn(forgetting.run(self._stopping), "erasure-watcher")
        await retrainer.start()
        self._spawn(retrainer.run(self._stopping), "retrainer")

    def _spawn(self, coroutine, name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def stop(self) -> None:
        self._stopping.set()
        for worker in self.workers:
            worker.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.ingest_writer.stop()
        await self.cache.close()
        await self.recommender.close()
        if self.writeback is not None:
            await self.writeback.close()
        await self.database.dispose()
        log.info("runtime.stopped")


def _embedded_serves(recommender: Recommender) -> bool:
    # Once a Personalize campaign serves the lists, a retrained embedded model
    # (kept for popular items) changes no user's list: refreshing is waste.
    if isinstance(recommender, PersonalizeRecommender):
        return not recommender.has_campaign
    return True


def _writeback_client(settings: Settings) -> EventsApiClient | None:
    if settings.mparticle_api_key is None or settings.mparticle_api_secret is None:
        return None
    return EventsApiClient(
        settings.mparticle_base_url,
        settings.mparticle_api_key,
        settings.mparticle_api_secret,
        settings.mparticle_timeout_seconds,
    )
