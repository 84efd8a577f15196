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
from app.integrations.mparticle.client import EventsApiClient
from app.privacy.forgetting import ErasureWatcher
from app.privacy.retention import RetentionHandler, schedule_retention
from app.recommenders.base import Recommender
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.embedded.retraining import Retrainer
from app.recommenders.factory import build_recommender
from app.recs.service import RecsService
from app.worker.handlers import Handler, RefreshHandler, SyncHandler
from app.worker.kinds import REFRESH, RETENTION, SYNC
from app.worker.runner import Worker

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
        self.recs = RecsService(self.database, self.recommender, settings)
        self.writeback = _writeback_client(settings)
        self.worker = Worker(self.database, self._handlers(), settings)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            REFRESH: RefreshHandler(self.recs),
            RETENTION: RetentionHandler(self.database, self.settings),
        }
        if self.writeback is not None:
            handlers[SYNC] = SyncHandler(self.database, self.writeback, self.settings)
        return handlers

    async def start(self) -> None:
        embedded = isinstance(self.recommender, EmbeddedRecommender)
        if embedded:
            # Noted before the first training, so an erasure committed while
            # the model trains still triggers a retrain.
            forgetting = ErasureWatcher(
                self.database,
                self.recommender.retrain,
                self.settings.erasure_check_seconds,
            )
            await forgetting.start()
        await self.recommender.start()
        if embedded:
            self._spawn(forgetting.run(self._stopping), "erasure-watcher")
            retrainer = Retrainer(
                self.recommender,
                self.database,
                self.settings.retrain_min_interval_seconds,
                refresh_users=self.run_worker,
            )
            self._spawn(retrainer.run(self._stopping), "retrainer")
        if self.run_worker:
            self._spawn(self.worker.run(), "worker")
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

    def _spawn(self, coroutine, name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def stop(self) -> None:
        self._stopping.set()
        self.worker.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.recommender.close()
        if self.writeback is not None:
            await self.writeback.close()
        await self.database.dispose()
        log.info("runtime.stopped")


def _writeback_client(settings: Settings) -> EventsApiClient | None:
    if settings.mparticle_api_key is None or settings.mparticle_api_secret is None:
        return None
    return EventsApiClient(
        settings.mparticle_base_url,
        settings.mparticle_api_key,
        settings.mparticle_api_secret,
        settings.mparticle_timeout_seconds,
    )
