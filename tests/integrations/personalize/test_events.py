"""Building PutEvents events: every field checked against Personalize's limits."""

import pytest

from app.integrations.personalize.events import (
    InvalidEvent,
    OutgoingEvent,
    PendingInteraction,
    build_event,
    check_impression,
    check_recommendation_id,
    event_id,
    group_calls,
    impression_window,
)


def interaction(**changes) -> PendingInteraction:
    values = {
        "key": "message_id:abc#0",
        "mpid": -42,
        "item_id": "SKU-1",
        "event_type": "purchase",
        "session_id": "s-1",
        "occurred_at_ms": 1_764_700_000_123,
    }
    values.update(changes)
    return PendingInteraction(**values)


def test_an_event_carries_the_interaction_in_personalize_terms():
    outgoing = build_event(interaction(), event_value=4.0, recommendation_id="RID-1")

    assert (outgoing.user_id, outgoing.session_id) == ("-42", "s-1")
    assert outgoing.event["eventId"] == "message_id:abc#0"
    assert outgoing.event["sentAt"].timestamp() == pytest.approx(1_764_700_000.123)
    assert outgoing.event["eventValue"] == 4.0
    assert outgoing.event["recommendationId"] == "RID-1"


def test_explicit_impressions_replace_the_recommendation_id():
    outgoing = build_event(interaction(), impression=["A", "B"], recommendation_id="R")

    assert outgoing.event["impression"] == ["A", "B"]
    assert "recommendationId" not in outgoing.event


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"item_id": "x" * 257},
            "itemId is 257 characters; Personalize allows at most 256",
        ),
        ({"item_id": ""}, "itemId is empty"),
        ({"event_type": "v" * 300}, "eventType is 300 characters"),
        ({"session_id": "s" * 257}, "sessionId is 257 characters"),
        ({"occurred_at_ms": 0}, "sentAt 0 ms is not after 1970-01-01"),
        ({"occurred_at_ms": 10**20}, "is not a date"),
    ],
)
def test_a_field_outside_the_limits_is_refused_with_its_name(changes, reason):
    with pytest.raises(InvalidEvent, match=reason):
        build_event(interaction(**changes))


def test_an_event_over_10_kb_is_refused():
    with pytest.raises(InvalidEvent, match="bytes; Personalize allows at most 10240"):
        build_event(interaction(), impression=["i" * 256] * 25 + ["j" * 256] * 20)


def test_a_non_finite_event_value_is_refused():
    with pytest.raises(InvalidEvent, match="eventValue nan"):
        build_event(interaction(), event_value=float("nan"))


def test_event_ids_are_stable_and_fit_256_characters():
    long_key = "sha256:" + "f" * 300
    assert event_id("short#1") == "short#1"
    assert event_id(long_key) == event_id(long_key)
    assert len(event_id(long_key)) <= 256
    assert event_id(long_key) != event_id(long_key + "x")


def test_optional_fields_outside_the_limits_are_left_out():
    assert check_recommendation_id("r" * 41) is None
    assert check_recommendation_id("RID-1") == "RID-1"
    assert check_impression(["a"] * 26) is None
    assert check_impression(["a", "x" * 257]) is None
    assert check_impression(["a", "b"]) == ["a", "b"]


def test_impression_windows_hold_the_item_and_fit_1000_characters():
    long_ids = [f"{n:03d}" + "x" * 96 for n in range(25)]  # 100 characters each
    window = impression_window(long_ids[20], long_ids)

    assert long_ids[20] in window
    assert len("|".join(window)) <= 1000
    assert impression_window("absent", long_ids) is None
    assert impression_window("b", ["a", "b", "a", "c"]) == ["a", "b", "c"]


def _event(user: str, session: str, n: int) -> OutgoingEvent:
    return OutgoingEvent(f"k{user}{session}{n}", user, session, {"eventId": str(n)})


def test_calls_hold_one_user_and_session_and_at_most_10_events():
    events = [_event("1", "a", n) for n in range(23)] + [
        _event("1", "b", 0),
        _event("2", "a", 0),
    ]

    calls = group_calls(events)

    assert [(c.user_id, c.session_id, len(c.events)) for c in calls] == [
        ("1", "a", 10),
        ("1", "a", 10),
        ("1", "a", 3),
        ("1", "b", 1),
        ("2", "a", 1),
    ]
    assert [e.key for c in calls[:3] for e in c.events] == [e.key for e in events[:23]]
