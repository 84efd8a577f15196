"""The embedded recommender: recloop's own model, trained from its own store.

The model lives in memory and is replaced with one assignment, so a request
sees either the old model or the new one, never a mix. Every trained model
is saved as a snapshot in the database; processes that did not train it
load it from there (see retraining.py for who trains and when).
"""

import asyncio
import time
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy import func, select
from threadpoolctl import threadpool_limits

from app.config import Settings
from app.db import Database
from app.memory import release_freed_memory
from app.models import Interaction
from app.recommenders.base import HistoryEvent, RecommendationList, ScoredItem
from app.recommenders.embedded import snapshot, store
from app.recommenders.embedded.loading import load_training_data
from app.recommenders.embedded.model import (
    EmbeddedModel,
    ModelParams,
    net_weights,
    params_with,
)
from app.recommenders.embedded.store import SnapshotInfo
from app.recommenders.embedded.training import train
from app.worker.runner import default_worker_id

log = structlog.get_logger(__name__)

PURCHASE = "purchase"


class EmbeddedRecommender:
    source = "embedded"

    def __init__(
        self,
        database: Database,
        settings: Settings,
        params: ModelParams | None = None,
        trainer_id: str | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._params = params or params_with(settings.embedded_params)
        # Unique per instance, so two recommenders in one process (tests) or
        # on one host never mistake each other's lease for their own.
        self.trainer_id = trainer_id or f"{default_worker_id()}:{uuid.uuid4().hex[:8]}"
        self._model = EmbeddedModel.empty(params=self._params)
        self._snapshot: SnapshotInfo | None = None
        self._train_lock = asyncio.Lock()

    @property
    def model(self) -> EmbeddedModel:
        return self._model

    @property
    def snapshot(self) -> SnapshotInfo | None:
        """The snapshot the current model came from, if any."""
        return self._snapshot

    @property
    def trained_through_id(self) -> int:
        """The highest interaction id the current model has seen."""
        return self._snapshot.trained_through_id if self._snapshot else 0

    async def start(self) -> None:
        # Per-request linear algebra is tiny: BLAS threads would only contend
        # with each other and with concurrent requests (and implicit, which
        # trains with threads of its own, asks for one BLAS thread too).
        threadpool_limits(limits=1, user_api="blas")
        await self.load_newest()

    async def close(self) -> None:
        return None

    async def record(self, mpid: int, events: Sequence[HistoryEvent]) -> None:
        # The model reads recloop's own store: recording is storing, which
        # ingest has already done. New items reach the model at the next retrain.
        return None

    async def recommend(
        self, mpid: int, history: Sequence[HistoryEvent], n: int
    ) -> RecommendationList:
        model = self._model
        weight_of = self._settings.weight_of
        net = net_weights([(e.item_id, weight_of(e.event_type)) for e in history])
        unwanted = {item for item, weight in net.items() if weight < 0}
        unwanted |= {e.item_id for e in history if e.event_type == PURCHASE}
        if self._settings.recs_exclude_interacted:
            unwanted |= set(net)
        fold = model.fold_in(net)
        items = await asyncio.to_thread(model.recommend, fold, n, unwanted)
        if not items:
            return RecommendationList(model.popular(n, unwanted), source="popular")
        return RecommendationList(items, source=self.source)

    async def popular(self, n: int) -> RecommendationList:
        return RecommendationList(self._model.popular(n, set()), source="popular")

    async def similar_items(self, item_id: str, n: int) -> list[ScoredItem] | None:
        return self._model.similar(item_id, n)

    async def new_interactions(self) -> int:
        """How many interactions were stored after the current model's watermark."""
        async with self._database.read() as session:
            count = await session.scalar(
                select(func.count()).where(Interaction.id > self.trained_through_id)
            )
        return int(count or 0)

    async def load_newest(self) -> bool:
        """Swap in the newest snapshot if it is newer than the model; True if so."""
        newest = await store.newest(self._database)
        if newest is None or (self._snapshot and newest.id <= self._snapshot.id):
            return False
        payload = await store.load_payload(self._database, newest.id)
        if payload is None:
            return False  # pruned between the two reads; the next look finds it
        try:
            model = await asyncio.to_thread(snapshot.load, payload)
        except snapshot.SnapshotUnreadable as exc:
            log.warning("recommender.snapshot_unreadable", id=newest.id, error=str(exc))
            return False
        self._model, self._snapshot = model, newest
        del payload
        await asyncio.to_thread(release_freed_memory)
        log.info("recommender.snapshot_loaded", id=newest.id, items=model.item_count)
        return True

    async def retrain(self) -> tuple[int, int]:
        """Train on every stored interaction, save the snapshot, swap it in.

        Returns the (old, new) interaction id watermarks.
        """
        async with self._train_lock:
            started = time.perf_counter()
            erasures = await store.erasure_watermark(self._database)
            data, through_id = await load_training_data(
                self._database, self._settings.event_weights
            )
            loaded = time.perf_counter()
            model = await asyncio.to_thread(train, data, self._params)
            seconds = time.perf_counter() - started
            info = await store.save(
                self._database, model, through_id, seconds, self.trainer_id, erasures
            )
            previous = self.trained_through_id
            if info is None:
                # A user was erased while this model trained on their data.
                log.info("recommender.training_discarded", reason="erasure")
                return previous, previous
            self._model, self._snapshot = model, info
        del data
        await asyncio.to_thread(release_freed_memory)
        log.info(
            "recommender.retrained",
            snapshot=info.id,
            interactions=model.interaction_count,
            items=model.item_count,
            load_seconds=round(loaded - started, 3),
            seconds=round(time.perf_counter() - started, 3),
        )
        return previous, through_id
