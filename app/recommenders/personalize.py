"""Amazon Personalize behind the recommender interface.

`record` forwards the user's new interactions with PutEvents, `recommend`
asks the campaign with GetRecommendations. Until a campaign exists (the
first weeks, while Personalize collects the events it needs to train),
lists come from the embedded recommender and say so in their source.
"""

from collections.abc import Sequence
from typing import Any

import structlog

from app.config import Settings
from app.db import Database
from app.integrations.personalize.clients import AsyncClient
from app.integrations.personalize.forwarding import EventForwarder
from app.recommenders.base import HistoryEvent, RecommendationList, ScoredItem
from app.recommenders.embedded.engine import EmbeddedRecommender

log = structlog.get_logger(__name__)

PURCHASE = "purchase"
# GetRecommendations returns at most 500 items.
MAX_RESULTS = 500
# The cache's recommendation_id column; Personalize's ids are far shorter.
MAX_RECOMMENDATION_ID_CHARS = 64


class PersonalizeRecommender:
    source = "personalize"

    def __init__(
        self,
        settings: Settings,
        database: Database,
        embedded: EmbeddedRecommender,
        *,
        events: AsyncClient | None,
        runtime: AsyncClient | None,
    ) -> None:
        self._settings = settings
        self._embedded = embedded
        self._events = events
        self._runtime = runtime
        self._forwarder = (
            EventForwarder(database, events, settings) if events is not None else None
        )

    @property
    def embedded(self) -> EmbeddedRecommender:
        """The embedded recommender that serves until a campaign exists."""
        return self._embedded

    @property
    def forwarder(self) -> EventForwarder | None:
        return self._forwarder

    @property
    def has_campaign(self) -> bool:
        return self._settings.personalize_campaign_arn is not None

    async def start(self) -> None:
        await self._embedded.start()

    async def close(self) -> None:
        for client in (self._events, self._runtime):
            if client is not None:
                client.close()
        await self._embedded.close()

    async def record(self, mpid: int, events: Sequence[HistoryEvent]) -> None:
        # What is new is read from the store (interactions not forwarded yet),
        # not from `events`: that also covers events stored after `events`
        # was read and those a failed call left behind.
        if self._forwarder is not None:
            await self._forwarder.forward(mpid)

    async def recommend(
        self, mpid: int, history: Sequence[HistoryEvent], n: int
    ) -> RecommendationList:
        campaign_arn = self._settings.personalize_campaign_arn
        if campaign_arn is None or self._runtime is None:
            return await self._embedded.recommend(mpid, history, n)
        purchased = {e.item_id for e in history if e.event_type == PURCHASE}
        # Without a filter (or before it has seen a purchase) Personalize may
        # return bought items; asking for a few more keeps the list full.
        size = min(MAX_RESULTS, n + len(purchased))
        response = await self._runtime.call(
            "get_recommendations", **self._user_params(campaign_arn, mpid, size)
        )
        items = [i for i in _scored(response) if i.item_id not in purchased][:n]
        if not items:
            return await self._embedded.recommend(mpid, history, n)
        return RecommendationList(
            items, source=self.source, recommendation_id=_list_id(response)
        )

    async def popular(self, n: int) -> RecommendationList:
        return await self._embedded.popular(n)

    async def similar_items(self, item_id: str, n: int) -> list[ScoredItem] | None:
        sims_arn = self._settings.personalize_sims_campaign_arn
        if sims_arn is None or self._runtime is None:
            return await self._embedded.similar_items(item_id, n)
        response = await self._runtime.call(
            "get_recommendations",
            campaignArn=sims_arn,
            itemId=item_id,
            # One more, in case the item itself comes back among its neighbours.
            numResults=min(MAX_RESULTS, n + 1),
        )
        return [item for item in _scored(response) if item.item_id != item_id][:n]

    async def needs_retrain(self) -> bool:
        return await self._embedded.needs_retrain()

    async def retrain(self) -> tuple[int, int]:
        """Retrain the embedded fallback (Personalize trains itself)."""
        return await self._embedded.retrain()

    def _user_params(self, campaign_arn: str, mpid: int, size: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "campaignArn": campaign_arn,
            "userId": str(mpid),
            "numResults": size,
        }
        if self._settings.personalize_filter_arn:
            params["filterArn"] = self._settings.personalize_filter_arn
        if self._settings.personalize_context:
            params["context"] = dict(self._settings.personalize_context)
        return params


def _scored(response: dict[str, Any]) -> list[ScoredItem]:
    return [
        ScoredItem(str(item["itemId"]), round(float(item.get("score") or 0.0), 6))
        for item in response.get("itemList", [])
        if item.get("itemId")
    ]


def _list_id(response: dict[str, Any]) -> str | None:
    value = response.get("recommendationId")
    if isinstance(value, str) and 0 < len(value) <= MAX_RECOMMENDATION_ID_CHARS:
        return value
    return None
