"""Retrain the embedded model in the background when new interactions arrive."""

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import select

from app.db import Database, chunks
from app.models import Interaction
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.worker import queue
from app.worker.kinds import REFRESH

log = structlog.get_logger(__name__)

ENQUEUE_CHUNK = 1000
TRAINING_DUTY_FACTOR = 5.0


class Retrainer:
    """Keeps the model current; with `refresh_users`, also re-queues the users
    whose new interactions the previous model could not fold in (new items)."""

    def __init__(
        self,
        recommender: EmbeddedRecommender,
        database: Database,
        min_interval_seconds: float,
        refresh_users: bool,
    ) -> None:
        self._recommender = recommender
        self._database = database
        self._min_interval_seconds = min_interval_seconds
        self._refresh_users = refresh_users
        self._last_training_seconds = 0.0

    @property
    def interval_seconds(self) -> float:
        # Small stores retrain every second or so, keeping new items fresh;
        # large ones wait several training-times between runs, so training
        # never takes more than a fifth of a core.
        return max(
            self._min_interval_seconds,
            TRAINING_DUTY_FACTOR * self._last_training_seconds,
        )

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.interval_seconds)
            if stopping.is_set():
                return
            try:
                await self.retrain_if_needed()
            except Exception:
                log.exception("recommender.retrain_failed")

    async def retrain_if_needed(self) -> bool:
        if not await self._recommender.needs_retrain():
            return False
        started = time.perf_counter()
        previous, through = await self._recommender.retrain()
        self._last_training_seconds = time.perf_counter() - started
        if self._refresh_users:
            await self._enqueue_refresh(previous, through)
        return True

    async def _enqueue_refresh(self, after_id: int, through_id: int) -> None:
        async with self._database.read() as session:
            mpids = (
                await session.scalars(
                    select(Interaction.mpid)
                    .where(Interaction.id > after_id, Interaction.id <= through_id)
                    .distinct()
                )
            ).all()
        for chunk in chunks(mpids, ENQUEUE_CHUNK):
            async with self._database.write() as session:
                await queue.enqueue(session, REFRESH, [str(mpid) for mpid in chunk])
