"""Forwarding a user's new interactions to Personalize with PutEvents.

Each interaction is marked forwarded once the call carrying it succeeded,
so a retried job sends only what is left. A crash between a successful
call and the mark re-sends the same events with the same eventIds, which
Personalize recognises; nothing else is ever sent twice. An event that
fails validation, or that Personalize refuses, is dead-lettered alone as a
`personalize_event` job with the reason, and the rest go on.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Database, chunks
from app.integrations.personalize.clients import AsyncClient
from app.integrations.personalize.context import ShownContext, load_shown
from app.integrations.personalize.errors import PersonalizeRejected
from app.integrations.personalize.events import (
    InvalidEvent,
    OutgoingEvent,
    PendingInteraction,
    PutEventsCall,
    build_event,
    group_calls,
)
from app.integrations.personalize.repository import PENDING_COLUMNS
from app.models import Interaction
from app.models.base import utcnow
from app.worker import queue
from app.worker.kinds import PERSONALIZE_EVENT

log = structlog.get_logger(__name__)

# Interactions read per round: bounds memory for a user with a long backlog
# (the first refresh after switching to Personalize sends their history).
PAGE_SIZE = 500
INVALID_INPUT = "InvalidInputException"


@dataclass
class Delivery:
    """What became of a set of events: sent, or refused with a reason."""

    sent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


class EventForwarder:
    def __init__(
        self, database: Database, events: AsyncClient, settings: Settings
    ) -> None:
        if not settings.personalize_tracking_id:
            raise ValueError("forwarding needs RECLOOP_PERSONALIZE_TRACKING_ID")
        self._database = database
        self._events = events
        self._settings = settings
        self._tracking_id = settings.personalize_tracking_id

    async def forward(self, mpid: int) -> int:
        """Send the user's interactions not forwarded yet; returns how many were sent.

        Raises PersonalizeUnavailable (retry later) or PersonalizeRejected
        (configuration: unknown tracker) with what is left still unforwarded.
        """
        sent = 0
        while pending := await self._pending(mpid):
            delivery = await self._deliver(mpid, pending, dead_letter=True)
            sent += len(delivery.sent)
            if len(pending) < PAGE_SIZE:
                break
        if sent:
            log.info("personalize.events_forwarded", mpid=str(mpid), events=sent)
        return sent

    async def resend(self, keys: Sequence[str]) -> Delivery:
        """Send these interactions again, whatever their state (dead-letter replay)."""
        async with self._database.read() as session:
            rows = await session.execute(
                select(*PENDING_COLUMNS).where(Interaction.key.in_(list(keys)))
            )
            found = [PendingInteraction(*row) for row in rows.all()]
        delivery = Delivery()
        delivery.refused = dict.fromkeys(
            set(keys) - _keys(found), "interaction no longer stored"
        )
        for mpid in sorted({i.mpid for i in found}):
            mine = [i for i in found if i.mpid == mpid]
            result = await self._deliver(mpid, mine, dead_letter=False)
            delivery.sent += result.sent
            delivery.refused.update(result.refused)
        return delivery

    async def _pending(self, mpid: int) -> list[PendingInteraction]:
        async with self._database.read() as session:
            rows = await session.execute(
                select(*PENDING_COLUMNS)
                .where(Interaction.mpid == mpid, Interaction.forwarded_at.is_(None))
                .order_by(Interaction.occurred_at_ms, Interaction.id)
                .limit(PAGE_SIZE)
            )
            return [PendingInteraction(*row) for row in rows.all()]

    async def _deliver(
        self, mpid: int, interactions: list[PendingInteraction], *, dead_letter: bool
    ) -> Delivery:
        async with self._database.read() as session:
            shown = await load_shown(session, mpid, interactions)
        outgoing, delivery = self._build(interactions, shown)
        if dead_letter:
            await self._dead_letter(delivery.refused)
        for call in group_calls(outgoing):
            result = await self._send(call)
            delivery.sent += result.sent
            if dead_letter:
                await self._dead_letter(result.refused)
            delivery.refused.update(result.refused)
        return delivery

    def _build(
        self, interactions: list[PendingInteraction], shown: ShownContext
    ) -> tuple[list[OutgoingEvent], Delivery]:
        outgoing: list[OutgoingEvent] = []
        delivery = Delivery()
        for interaction in interactions:
            seen = shown.shown_for(interaction)
            try:
                outgoing.append(
                    build_event(
                        interaction,
                        event_value=self._event_value(interaction.event_type),
                        impression=seen.impression,
                        recommendation_id=seen.recommendation_id,
                    )
                )
            except InvalidEvent as exc:
                delivery.refused[interaction.key] = f"not sent: {exc}"
        return outgoing, delivery

    def _event_value(self, event_type: str) -> float | None:
        if not self._settings.personalize_event_value:
            return None
        return self._settings.weight_of(event_type)

    async def _send(self, call: PutEventsCall) -> Delivery:
        try:
            await self._events.call("put_events", **call.params(self._tracking_id))
        except PersonalizeRejected as exc:
            if exc.error_code != INVALID_INPUT:
                raise
            return await self._isolate(call, str(exc))
        await self._mark_forwarded(call.keys)
        return Delivery(sent=call.keys)

    async def _isolate(self, call: PutEventsCall, reason: str) -> Delivery:
        """Find the event(s) that made Personalize refuse a call, one at a time."""
        if len(call.events) == 1:
            log.warning("personalize.event_refused", key=call.keys[0], error=reason)
            return Delivery(refused={call.keys[0]: f"refused by {reason}"})
        delivery = Delivery()
        for event in call.events:
            single = PutEventsCall(call.user_id, call.session_id, [event])
            result = await self._send(single)
            delivery.sent += result.sent
            delivery.refused.update(result.refused)
        return delivery

    async def _mark_forwarded(self, keys: Sequence[str]) -> None:
        async with self._database.write() as session:
            await _set_forwarded(session, keys)

    async def _dead_letter(self, refused: dict[str, str]) -> None:
        if not refused:
            return
        async with self._database.write() as session:
            await queue.dead_letter(session, PERSONALIZE_EVENT, refused)
            await _set_forwarded(session, list(refused))
        for key, reason in refused.items():
            log.warning("personalize.event_dead_lettered", key=key, error=reason)


async def _set_forwarded(session: AsyncSession, keys: Sequence[str]) -> None:
    now = utcnow()
    for chunk in chunks(sorted(keys), PAGE_SIZE):
        await session.execute(
            update(Interaction)
            .where(Interaction.key.in_(chunk))
            .values(forwarded_at=now)
        )


def _keys(interactions: Sequence[PendingInteraction]) -> set[str]:
    return {interaction.key for interaction in interactions}
