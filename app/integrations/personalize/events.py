"""Interactions as PutEvents calls, validated field by field before sending.

PutEvents is all-or-nothing: one bad event fails the other nine of its call,
and botocore checks neither maximum lengths nor list sizes. Every event is
therefore checked against the service's documented limits here, so a bad
one can be set aside alone with a reason that names the field.
"""

import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

MAX_EVENTS_PER_CALL = 10
MAX_ID_CHARS = 256
MAX_RECOMMENDATION_ID_CHARS = 40
MAX_IMPRESSION_ITEMS = 25
# Impressions end up in one categorical value of at most 1000 characters
# (item ids joined by "|"); longer lists fail dataset imports.
MAX_IMPRESSION_CHARS = 1000
MAX_EVENT_BYTES = 10 * 1024


class InvalidEvent(ValueError):
    """An interaction that Personalize would refuse, and why."""


@dataclass(frozen=True, slots=True)
class PendingInteraction:
    """An interaction as forwarding reads it from the store."""

    key: str
    mpid: int
    item_id: str
    event_type: str
    session_id: str | None
    occurred_at_ms: int
    recommendation_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    key: str
    user_id: str
    session_id: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PutEventsCall:
    """One PutEvents request: one user, one session, 1 to 10 events."""

    user_id: str
    session_id: str
    events: list[OutgoingEvent]

    @property
    def keys(self) -> list[str]:
        return [event.key for event in self.events]

    def params(self, tracking_id: str) -> dict[str, Any]:
        return {
            "trackingId": tracking_id,
            "userId": self.user_id,
            "sessionId": self.session_id,
            "eventList": [event.event for event in self.events],
        }


def event_id(key: str) -> str:
    """The interaction's stable key, within Personalize's 256 characters.

    The same interaction always gets the same eventId, so a call retried
    after a lost answer is recognised by Personalize as the same events.
    """
    if len(key) <= MAX_ID_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def session_id_for(interaction: PendingInteraction) -> str:
    """The mParticle session, or one derived from the user and the UTC day.

    Personalize requires a sessionId on every call, and mParticle omits the
    session on server-to-server events. Deriving it from values that never
    change keeps a re-sent event in the same session (and so in a call of
    the same shape), and groups a sessionless user's events of one day the
    way a browsing session would.
    """
    if interaction.session_id:
        return interaction.session_id
    day = datetime.fromtimestamp(interaction.occurred_at_ms / 1000, UTC).date()
    return f"recloop-{interaction.mpid}-{day.isoformat()}"


def is_recloop_list_id(recommendation_id: str) -> bool:
    """recloop names the lists it makes itself with UUIDs; Personalize does not."""
    try:
        uuid.UUID(recommendation_id)
    except ValueError:
        return False
    return True


def impression_window(item_id: str, shown: Sequence[str]) -> list[str] | None:
    """The part of a shown list, around `item_id`, that fits Personalize's limits."""
    unique = list(dict.fromkeys(i for i in shown if 0 < len(i) <= MAX_ID_CHARS))
    if item_id not in unique:
        return None
    position = unique.index(item_id)
    start = max(0, position - MAX_IMPRESSION_ITEMS + 1)
    window = unique[start : start + MAX_IMPRESSION_ITEMS]
    while len("|".join(window)) > MAX_IMPRESSION_CHARS and len(window) > 1:
        # Drop from whichever end is farther from the item interacted with.
        if window.index(item_id) >= len(window) - 1 - window.index(item_id):
            window.pop(0)
        else:
            window.pop()
    return window if len("|".join(window)) <= MAX_IMPRESSION_CHARS else None


def build_event(
    interaction: PendingInteraction,
    *,
    event_value: float | None = None,
    impression: Sequence[str] | None = None,
    recommendation_id: str | None = None,
) -> OutgoingEvent:
    """The PutEvents event for an interaction; raises InvalidEvent naming the field."""
    user_id = str(interaction.mpid)
    session_id = session_id_for(interaction)
    _check_id("userId", user_id)
    _check_id("sessionId", session_id)
    event: dict[str, Any] = {
        "eventId": event_id(interaction.key),
        "eventType": _check_id("eventType", interaction.event_type),
        "itemId": _check_id("itemId", interaction.item_id),
        "sentAt": _sent_at(interaction.occurred_at_ms),
    }
    if event_value is not None:
        if not math.isfinite(event_value):
            raise InvalidEvent(f"eventValue {event_value} is not a finite number")
        event["eventValue"] = float(event_value)
    if impression:
        event["impression"] = list(impression)
    elif recommendation_id:
        event["recommendationId"] = recommendation_id
    _check_size(event)
    return OutgoingEvent(interaction.key, user_id, session_id, event)


def check_impression(impression: Sequence[str] | None) -> list[str] | None:
    """An impression list Personalize accepts, or None (the event goes without)."""
    if not impression or len(impression) > MAX_IMPRESSION_ITEMS:
        return None
    if any(not 0 < len(item) <= MAX_ID_CHARS for item in impression):
        return None
    return list(impression)


def check_recommendation_id(value: str | None) -> str | None:
    """A recommendationId Personalize accepts, or None (the event goes without)."""
    if value and 0 < len(value) <= MAX_RECOMMENDATION_ID_CHARS:
        return value
    return None


def group_calls(events: Iterable[OutgoingEvent]) -> list[PutEventsCall]:
    """Calls of at most 10 events, one (user, session) each, in the given order."""
    calls: list[PutEventsCall] = []
    ordered = sorted(events, key=lambda e: (e.user_id, e.session_id))
    for (user_id, session_id), group in groupby(
        ordered, key=lambda e: (e.user_id, e.session_id)
    ):
        same = list(group)
        for start in range(0, len(same), MAX_EVENTS_PER_CALL):
            chunk = same[start : start + MAX_EVENTS_PER_CALL]
            calls.append(PutEventsCall(user_id, session_id, chunk))
    return calls


def _check_id(field: str, value: str) -> str:
    if not value:
        raise InvalidEvent(f"{field} is empty; Personalize requires 1-256 characters")
    if len(value) > MAX_ID_CHARS:
        raise InvalidEvent(
            f"{field} is {len(value)} characters; Personalize allows at most "
            f"{MAX_ID_CHARS} ({value[:40]!r}...)"
        )
    return value


def _sent_at(occurred_at_ms: int) -> datetime:
    if occurred_at_ms <= 0:
        raise InvalidEvent(
            f"sentAt {occurred_at_ms} ms is not after 1970-01-01; "
            "Personalize takes Unix times"
        )
    try:
        return datetime.fromtimestamp(occurred_at_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidEvent(f"sentAt {occurred_at_ms} ms is not a date") from None


def _check_size(event: dict[str, Any]) -> None:
    wire = {**event, "sentAt": event["sentAt"].timestamp()}
    size = len(json.dumps(wire, separators=(",", ":")).encode())
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {size} bytes; Personalize allows at most {MAX_EVENT_BYTES}"
        )
