"""Users' recommendations: computed by the recommender, cached one row per user."""

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.config import Settings
from app.db import Database
from app.impact import repository as impact_repository
from app.models import CachedRecommendation
from app.models.base import utcnow
from app.privacy.service import lock_user, lock_users
from app.recommenders.base import (
    HistoryEvent,
    RecommendationList,
    Recommender,
    ScoredItem,
)
from app.recs import repository
from app.recs.cache import CachedList, CacheReader, SessionReader
from app.worker import queue
from app.worker.kinds import SYNC

log = structlog.get_logger(__name__)

# Names uuid5 ids of lists that are not cached, so the same list always has
# the same id (and ETag) until it changes.
UNCACHED_LIST_NAMESPACE = uuid.UUID("5f0e6a52-8c1e-4f43-9d0b-6f3b1c2a7e10")


@dataclass(frozen=True, slots=True)
class ServedList:
    mpid: int
    items: list[ScoredItem]
    recommendation_id: str
    source: str
    generated_at: datetime


class RecsService:
    def __init__(
        self,
        database: Database,
        recommender: Recommender,
        settings: Settings,
        cache: CacheReader | None = None,
    ) -> None:
        self._database = database
        self._recommender = recommender
        self._settings = settings
        self._cache = cache or SessionReader(database)

    async def cached(self, mpid: int, n: int) -> ServedList | None:
        """The cached list when it answers `n`, else None (nothing counted)."""
        row = await self._cache.get(mpid)
        if row is None or not self._answers(row, n):
            return None
        metrics.child(metrics.RECS_CACHE_LOOKUPS, "hit").inc()
        return _from_row(row, n)

    async def for_user(self, mpid: int, n: int) -> ServedList:
        """The cached list when it answers `n`; otherwise computed once."""
        row = await self._cache.get(mpid)
        if row is not None and self._answers(row, n):
            metrics.child(metrics.RECS_CACHE_LOOKUPS, "hit").inc()
            return _from_row(row, n)
        metrics.child(metrics.RECS_CACHE_LOOKUPS, "miss").inc()
        async with self._database.read() as session:
            history = await repository.user_history(session, mpid)
        if not history:
            return _uncached(mpid, await self._recommender.popular(n))
        size = max(n, self._settings.recs_count)
        computed = await self._recommender.recommend(mpid, history, size)
        if row is not None:
            return _uncached(mpid, computed, n)
        cached = await self._cache_computed(mpid, computed)
        if cached is None:
            return _uncached(mpid, computed, n)
        return _from_row(cached, n)

    def _answers(self, row: CachedList, n: int) -> bool:
        # The cache holds the top `recs_count`; a shorter cached list is all
        # there is to recommend, so it answers any n up to recs_count too.
        return n <= len(row.items) or n <= self._settings.recs_count

    async def refresh(self, mpid: int) -> bool:
        """Record the user's new interactions, recompute their list and cache it.

        Returns True when the list changed.
        """
        outcome = (await self.refresh_many([mpid]))[mpid]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def refresh_many(self, mpids: Sequence[int]) -> dict[int, bool | Exception]:
        """Refresh several users at once: one read of their histories, one write.

        Per user: whether the list changed, or the error that kept it from
        being computed (the others are refreshed all the same).
        """
        async with self._database.read() as session:
            histories = await repository.user_histories(session, mpids)
        computed = await asyncio.gather(
            *(self._compute(mpid, histories.get(mpid, [])) for mpid in mpids),
            return_exceptions=True,
        )
        outcomes: dict[int, bool | Exception] = {}
        lists: dict[int, RecommendationList] = {}
        for mpid, result in zip(mpids, computed, strict=True):
            if isinstance(result, Exception):
                outcomes[mpid] = result
            elif isinstance(result, RecommendationList):
                lists[mpid] = result
        async with self._database.write() as session:
            outcomes.update(await self._cache_refreshed(session, lists))
        return outcomes

    async def _compute(
        self, mpid: int, history: Sequence[HistoryEvent]
    ) -> RecommendationList:
        await self._recommender.record(mpid, history)
        return await self._recommender.recommend(
            mpid, history, self._settings.recs_count
        )

    async def _cache_refreshed(
        self, session: AsyncSession, lists: dict[int, RecommendationList]
    ) -> dict[int, bool]:
        """Cache the lists that changed, a few statements for all of them;
        per user, whether the list changed."""
        # In MPID order, like every other writer, so none deadlocks.
        mpids = sorted(lists)
        await lock_users(session, mpids)
        # A user erased after their history was read gets no list from it.
        known = await repository.users_with_interactions(session, mpids)
        cached = await repository.cached_item_ids(session, mpids)
        changed: dict[int, bool] = {}
        rows: list[dict[str, Any]] = []
        sync: list[str] = []
        for mpid in mpids:
            changed[mpid] = False
            if mpid not in known:
                continue
            new_ids = [item.item_id for item in lists[mpid].items]
            item_ids, synced_ids = cached.get(mpid, (None, None))
            if item_ids != new_ids:
                changed[mpid] = True
                rows.append(_row(mpid, lists[mpid]))
                sync.append(str(mpid))
            elif synced_ids != new_ids:
                # A list first cached on a cache miss, or one whose
                # write-back died, still reaches mParticle.
                sync.append(str(mpid))
        await repository.replace_lists(session, rows)
        await impact_repository.record_served_many(session, [_served(r) for r in rows])
        if self._settings.writeback_enabled:
            await queue.enqueue(session, SYNC, sync)
        log.debug("recs.refreshed", users=len(mpids), changed=len(rows))
        return changed

    async def _cache_computed(
        self, mpid: int, computed: RecommendationList
    ) -> CachedRecommendation | None:
        """Cache a list computed on a miss; None if the user was just erased."""
        async with self._database.write() as session:
            if not await _still_known(session, mpid):
                return None
            values = _row(mpid, computed)
            await repository.insert_if_absent(session, values)
            row = await repository.cached(session, mpid)
            if row is not None and row.recommendation_id == values["recommendation_id"]:
                await _record_served(session, values)
        return row


async def _still_known(session: AsyncSession, mpid: int) -> bool:
    # A user erased after their history was read must not get a list cached
    # from it; the lock orders this check against a concurrent erasure.
    await lock_user(session, mpid)
    return await repository.has_interactions(session, mpid)


async def _record_served(session: AsyncSession, values: dict[str, Any]) -> None:
    # Recorded when generated, in the transaction that caches the list, so
    # serving a cached list stays a single read with no write.
    await impact_repository.record_served_many(session, [_served(values)])


def _served(values: dict[str, Any]) -> dict[str, Any]:
    """The served_recommendations row of a cached list's row."""
    return {
        "recommendation_id": values["recommendation_id"],
        "mpid": values["mpid"],
        "item_ids": [item["item_id"] for item in values["items"]],
        "source": values["source"],
        "generated_at": values["generated_at"],
    }


def _from_row(row: CachedRecommendation | CachedList, n: int) -> ServedList:
    items = [ScoredItem(**item) for item in row.items[:n]]
    return ServedList(
        row.mpid, items, row.recommendation_id, row.source, row.generated_at
    )


def _row(mpid: int, computed: RecommendationList) -> dict[str, Any]:
    return {
        "mpid": mpid,
        "items": [{"item_id": i.item_id, "score": i.score} for i in computed.items],
        "recommendation_id": computed.recommendation_id or str(uuid.uuid4()),
        "source": computed.source,
        "generated_at": utcnow(),
    }


def _uncached(
    mpid: int, computed: RecommendationList, n: int | None = None
) -> ServedList:
    items = computed.items[:n] if n is not None else computed.items
    content = computed.source + "|" + "|".join(item.item_id for item in items)
    recommendation_id = computed.recommendation_id or str(
        uuid.uuid5(UNCACHED_LIST_NAMESPACE, content)
    )
    return ServedList(mpid, items, recommendation_id, computed.source, utcnow())
