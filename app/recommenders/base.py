"""The recommender interface: the embedded engine and Amazon Personalize are
interchangeable behind it, chosen by ``RECLOOP_RECOMMENDER``."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One interaction as a recommender sees it."""

    item_id: str
    event_type: str
    occurred_at_ms: int
    session_id: str | None = None
    key: str = ""


@dataclass(frozen=True, slots=True)
class ScoredItem:
    item_id: str
    score: float


@dataclass(frozen=True, slots=True)
class RecommendationList:
    """A ranked list and where it came from.

    `source` is "embedded", "personalize" or "popular" (a fallback for users
    the model cannot personalize for yet). `recommendation_id` is set when
    the recommender issues its own (Personalize does); otherwise recloop
    makes one when it caches the list.
    """

    items: list[ScoredItem]
    source: str
    recommendation_id: str | None = None


class Recommender(Protocol):
    """What the worker and the recs service need from a recommender.

    Calls may block on I/O or CPU; implementations run that work off the
    event loop themselves.
    """

    async def record(self, mpid: int, events: Sequence[HistoryEvent]) -> None:
        """Take a user's interactions after new ones were stored, most recent first.

        A remote service sends what it has not been sent yet (Personalize
        reads that from the store, so nothing a failed call left is missed).
        """

    async def recommend(
        self, mpid: int, history: Sequence[HistoryEvent], n: int
    ) -> RecommendationList:
        """The user's top `n`, never including items they purchased."""

    async def popular(self, n: int) -> RecommendationList:
        """The top `n` for a user recloop knows nothing about."""

    async def similar_items(self, item_id: str, n: int) -> list[ScoredItem] | None:
        """Items like `item_id`, or None when the recommender cannot say."""

    async def start(self) -> None:
        """Load or train what the recommender needs; called once at startup."""

    async def close(self) -> None:
        """Release resources; called once at shutdown."""
