"""Who trains the embedded model, and when.

Every process looks for a newer snapshot on each tick and swaps it in. Worker
processes also train, when enough new interactions have arrived since the
newest snapshot, and only while holding the trainer lease: with several
workers on one database exactly one trains at a time and the others load
what it saved.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import select

from app.config import Settings
from app.db import Database, chunks
from app.models import Interaction
from app.recommenders.embedded import lease
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.worker import queue
from app.worker.kinds import REFRESH

log = structlog.get_logger(__name__)

LEASE_NAME = "embedded-model"
# The trainer renews its lease every third of this while it trains, so a
# crashed trainer blocks others for at most this long.
LEASE_SECONDS = 30.0
ENQUEUE_CHUNK = 1000
# Training takes at most a fifth of a core: large stores wait several
# training-times between runs.
TRAINING_DUTY_FACTOR = 5.0


class Retrainer:
    """Keeps the process's model current; with `train`, trains it too, and
    re-queues the users whose interactions the previous model could not fold
    in (items it did not know)."""

    def __init__(
        self,
        recommender: EmbeddedRecommender,
        database: Database,
        settings: Settings,
        *,
        train: bool,
        refresh_users: bool = True,
    ) -> None:
        self._recommender = recommender
        self._database = database
        self._settings = settings
        self._train = train
        # Off when another recommender serves the lists (a Personalize
        # campaign): a new embedded model then changes no user's list.
        self._refresh_users = refresh_users
        self._last_training_seconds = 0.0
        self._last_trained_at = 0.0

    async def start(self) -> None:
        """Load the newest snapshot; a trainer with none trains the first model."""
        try:
            await self._recommender.load_newest()
            if self._train and self._recommender.snapshot is None:
                await self.retrain_if_needed()
        except Exception:
            # Serving popular items beats not starting; the loop tries again.
            log.exception("recommender.startup_training_failed")

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stopping.wait(), timeout=self._settings.retrain_min_interval_seconds
                )
            if stopping.is_set():
                return
            try:
                await self.tick()
            except Exception:
                log.exception("recommender.retrain_failed")

    async def tick(self) -> bool:
        """Load a newer snapshot if any; train when due. True if it trained."""
        await self._recommender.load_newest()
        if not self._train:
            return False
        rested = time.monotonic() - self._last_trained_at
        if rested < TRAINING_DUTY_FACTOR * self._last_training_seconds:
            return False
        return await self.retrain_if_needed()

    async def retrain_if_needed(self) -> bool:
        """Train if enough new data arrived and no other process is training."""
        if not await self._enough_new_data():
            return False
        return await self._train_under_lease(force=False)

    async def retrain_now(self) -> bool:
        """Train whatever the new data (users were erased); False if another
        process holds the trainer lease."""
        return await self._train_under_lease(force=True)

    async def _train_under_lease(self, *, force: bool) -> bool:
        holder = self._recommender.trainer_id
        if not await lease.acquire(self._database, LEASE_NAME, holder, LEASE_SECONDS):
            log.debug("recommender.training_elsewhere")
            return False
        try:
            async with self._lease_kept(holder):
                # Another trainer may have saved a model while this one waited.
                await self._recommender.load_newest()
                if not force and not await self._enough_new_data():
                    return False
                started = time.perf_counter()
                previous, through = await self._recommender.retrain()
                self._last_training_seconds = time.perf_counter() - started
                self._last_trained_at = time.monotonic()
        finally:
            await lease.release(self._database, LEASE_NAME, holder)
        if self._refresh_users:
            await refresh_users_since(self._database, previous, through)
        return True

    async def _enough_new_data(self) -> bool:
        new = await self._recommender.new_interactions()
        snapshot = self._recommender.snapshot
        if snapshot is None:
            return new > 0
        threshold = max(
            self._settings.retrain_min_new_interactions,
            self._settings.retrain_min_new_fraction * snapshot.interaction_count,
        )
        return new >= threshold

    @contextlib.asynccontextmanager
    async def _lease_kept(self, holder: str) -> AsyncIterator[None]:
        async def renew() -> None:
            while True:
                await asyncio.sleep(LEASE_SECONDS / 3)
                if not await lease.acquire(
                    self._database, LEASE_NAME, holder, LEASE_SECONDS
                ):
                    log.warning("recommender.lease_lost", holder=holder)

        task = asyncio.create_task(renew(), name="trainer-lease")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def refresh_users_since(
    database: Database, after_id: int, through_id: int
) -> None:
    """Queue a refresh for every user with interactions in (after_id, through_id]:
    a new model may know items their current lists could not use."""
    async with database.read() as session:
        mpids = (
            await session.scalars(
                select(Interaction.mpid)
                .where(Interaction.id > after_id, Interaction.id <= through_id)
                .distinct()
            )
        ).all()
    for chunk in chunks(mpids, ENQUEUE_CHUNK):
        async with database.write() as session:
            await queue.enqueue(session, REFRESH, [str(mpid) for mpid in chunk])
