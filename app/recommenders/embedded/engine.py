"""The embedded recommender: an item-kNN model trained from recloop's own store.

The model lives in memory and is rebuilt in a background thread when new
interactions have arrived, then swapped in with one assignment, so requests
always see either the old model or the new one, never a mix.
"""

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import structlog
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Interaction
from app.recommenders.base import HistoryEvent, RecommendationList, ScoredItem
from app.recommenders.embedded.model import ItemKNN, ModelParams, TrainingData, train

log = structlog.get_logger(__name__)

PURCHASE = "purchase"
ROWS_PER_FETCH = 10_000


class EmbeddedRecommender:
    source = "embedded"

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._model = ItemKNN.empty()
        self._trained_through_id = 0
        self._train_lock = asyncio.Lock()

    @property
    def model(self) -> ItemKNN:
        return self._model

    @property
    def trained_through_id(self) -> int:
        """The highest interaction id the current model has seen."""
        return self._trained_through_id

    async def start(self) -> None:
        await self.retrain()

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
        purchased = {event.item_id for event in history if event.event_type == PURCHASE}
        weighted = [
            (event.item_id, self._settings.weight_of(event.event_type))
            for event in history
        ]
        items = await asyncio.to_thread(model.recommend, weighted, n, purchased)
        if not items:
            return RecommendationList(model.popular(n, purchased), source="popular")
        if len(items) < n:
            chosen = purchased | {item.item_id for item in items}
            items += model.popular(n - len(items), chosen)
        return RecommendationList(items, source=self.source)

    async def popular(self, n: int) -> RecommendationList:
        return RecommendationList(self._model.popular(n, set()), source="popular")

    async def similar_items(self, item_id: str, n: int) -> list[ScoredItem] | None:
        return self._model.similar(item_id, n)

    async def needs_retrain(self) -> bool:
        async with self._database.read() as session:
            newest = await session.scalar(select(func.max(Interaction.id)))
        return (newest or 0) > self._trained_through_id

    async def retrain(self) -> tuple[int, int]:
        """Train on every stored interaction; returns the (old, new) id watermarks."""
        async with self._train_lock:
            started = time.perf_counter()
            data, through_id = await self._load()
            model = await asyncio.to_thread(train, data, ModelParams())
            previous = self._trained_through_id
            self._model, self._trained_through_id = model, through_id
        log.info(
            "recommender.retrained",
            interactions=model.interaction_count,
            items=model.item_count,
            seconds=round(time.perf_counter() - started, 3),
        )
        return previous, through_id

    async def _load(self) -> tuple[TrainingData, int]:
        user_ids: list[int] = []
        item_ids: list[str] = []
        weights: list[float] = []
        times_ms: list[int] = []
        through_id = 0
        weight_of = self._settings.weight_of
        query = select(
            Interaction.id,
            Interaction.mpid,
            Interaction.item_id,
            Interaction.event_type,
            Interaction.occurred_at_ms,
        ).execution_options(yield_per=ROWS_PER_FETCH)
        async with self._database.read() as session:
            rows = await session.stream(query)
            async for row_id, mpid, item_id, event_type, occurred_at_ms in rows:
                user_ids.append(mpid)
                item_ids.append(item_id)
                weights.append(weight_of(event_type))
                times_ms.append(occurred_at_ms)
                through_id = max(through_id, row_id)
        data = TrainingData(
            user_ids=np.asarray(user_ids, dtype=np.int64),
            item_ids=item_ids,
            weights=np.asarray(weights, dtype=np.float32),
            times_ms=np.asarray(times_ms, dtype=np.int64),
        )
        return data, through_id
