"""What was shown to a user before an interaction: impressions and served lists.

Personalize learns from what a user saw and ignored as well as from what
they used. For each interaction recloop looks for the product list shown
in the same session that contained the item (explicit `impression`), else
the list recloop served that the app named in `recommendation_id`.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import chunks
from app.integrations.personalize.events import (
    PendingInteraction,
    check_recommendation_id,
    impression_window,
    is_recloop_list_id,
)
from app.models import CachedRecommendation, Impression

PERSONALIZE_SOURCE = "personalize"
# Bound parameters per IN (...) list.
IN_CHUNK = 400

ListKey = tuple[str, str]  # (event key, list index within the event)


@dataclass(frozen=True, slots=True)
class Shown:
    """The impression or recommendationId to send with one interaction."""

    impression: list[str] | None = None
    recommendation_id: str | None = None


@dataclass
class ShownContext:
    """The lists a user was shown, loaded once for a page of interactions."""

    # (session, item) -> [(time, list)], for lists that contained the item.
    sightings: dict[tuple[str, str], list[tuple[int, ListKey]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lists: dict[ListKey, list[str]] = field(default_factory=dict)
    cached: CachedRecommendation | None = None

    def shown_for(self, interaction: PendingInteraction) -> Shown:
        impression = self._impression(interaction)
        if impression:
            return Shown(impression=impression)
        return self._served(interaction)

    def _impression(self, interaction: PendingInteraction) -> list[str] | None:
        if not interaction.session_id:
            return None
        seen = self.sightings.get((interaction.session_id, interaction.item_id), [])
        earlier = [s for s in seen if s[0] <= interaction.occurred_at_ms]
        if not earlier:
            return None
        _, latest = max(earlier)
        return impression_window(interaction.item_id, self.lists.get(latest, []))

    def _served(self, interaction: PendingInteraction) -> Shown:
        rid = interaction.recommendation_id
        if not rid:
            return Shown()
        cached = self.cached
        if cached is not None and cached.recommendation_id == rid:
            if cached.source == PERSONALIZE_SOURCE:
                return Shown(recommendation_id=check_recommendation_id(rid))
            # A list recloop made itself: Personalize has no record of its
            # id, so the items shown go as explicit impressions instead.
            items = [item["item_id"] for item in cached.items]
            return Shown(impression=impression_window(interaction.item_id, items))
        if is_recloop_list_id(rid):
            return Shown()
        return Shown(recommendation_id=check_recommendation_id(rid))


async def load_shown(
    session: AsyncSession, mpid: int, interactions: Sequence[PendingInteraction]
) -> ShownContext:
    context = ShownContext(cached=await session.get(CachedRecommendation, mpid))
    sessions = sorted({i.session_id for i in interactions if i.session_id})
    items = sorted({i.item_id for i in interactions})
    if not sessions:
        return context
    latest_ms = max(i.occurred_at_ms for i in interactions)
    for item_chunk in chunks(items, IN_CHUNK):
        rows = await session.execute(
            select(
                Impression.session_id,
                Impression.item_id,
                Impression.occurred_at_ms,
                Impression.key,
            ).where(
                Impression.mpid == mpid,
                Impression.session_id.in_(sessions),
                Impression.item_id.in_(item_chunk),
                Impression.occurred_at_ms <= latest_ms,
            )
        )
        for session_id, item_id, occurred_at_ms, key in rows.all():
            list_key, _ = _list_position(key)
            context.sightings[(session_id, item_id)].append((occurred_at_ms, list_key))
    await _load_lists(session, context)
    return context


async def _load_lists(session: AsyncSession, context: ShownContext) -> None:
    wanted = {key for seen in context.sightings.values() for _, key in seen}
    event_keys = sorted({event_key for event_key, _ in wanted})
    positions: dict[ListKey, list[tuple[int, str]]] = defaultdict(list)
    for key_chunk in chunks(event_keys, IN_CHUNK):
        rows = await session.execute(
            select(Impression.key, Impression.item_id).where(
                Impression.event_key.in_(key_chunk)
            )
        )
        for key, item_id in rows.all():
            list_key, position = _list_position(key)
            if list_key in wanted:
                positions[list_key].append((position, item_id))
    context.lists = {k: [item for _, item in sorted(v)] for k, v in positions.items()}


def _list_position(impression_key: str) -> tuple[ListKey, int]:
    # Impression keys are "<event key>#i<list index>.<position>" (see ingest).
    event_key, _, suffix = impression_key.rpartition("#i")
    list_index, _, position = suffix.partition(".")
    return (event_key, list_index), int(position)
