"""Batches to interactions: MPIDs, keys, both batch shapes, impressions."""

import pytest

from app.exceptions import BadRequest, ValueOutOfRange
from app.ingest.parsing import ParseOptions, parse_batch, parse_batches
from tests.batches import inbound_batch, outbound_batch, product_event, screen_view

OPTIONS = ParseOptions(
    actions=frozenset({"view_detail", "add_to_cart", "add_to_wishlist", "purchase"}),
    received_at_ms=1_800_000_000_000,
)
BIG_MPID = 7_346_244_611_012_968_789  # above 2**53: a float would change it


def _parse(raw: dict) -> list:
    return list(parse_batch(raw, OPTIONS).interactions)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (BIG_MPID, BIG_MPID),
        (str(BIG_MPID), BIG_MPID),
        (-BIG_MPID, -BIG_MPID),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (" 42 ", 42),
    ],
)
def test_mpid_is_exact_as_number_or_decimal_string(sent, stored) -> None:
    rows = _parse(outbound_batch(0, product_event("view_detail", "A")) | {"mpid": sent})
    assert [row.mpid for row in rows] == [stored]


@pytest.mark.parametrize(("sent", "stored"), [(143.0, 143), (-(2.0**53), -(2**53))])
def test_an_integral_float_an_exact_double_holds_is_that_integer(sent, stored):
    # JSON does not tell 143.0 from 143; below 2**53 no rounding can hide.
    rows = _parse(outbound_batch(0, product_event("view_detail", "A")) | {"mpid": sent})
    assert [row.mpid for row in rows] == [stored]


@pytest.mark.parametrize("mpid", [2**63, -(2**63) - 1, "9223372036854775808"])
def test_mpid_outside_signed_64_bits_is_out_of_range(mpid) -> None:
    with pytest.raises(ValueOutOfRange, match="outside the signed 64-bit range"):
        _parse(outbound_batch(0) | {"mpid": mpid})


@pytest.mark.parametrize(
    "mpid", [7.3e18, 2.0**53 + 2, 1.5, "12ab", "1e5", True, [1], ""]
)
def test_mpid_that_is_not_an_exact_integer_is_refused_naming_it(mpid) -> None:
    with pytest.raises(ValueOutOfRange, match="mpid"):
        _parse(outbound_batch(0) | {"mpid": mpid})


def test_one_interaction_per_product_with_the_events_time_and_session() -> None:
    event = product_event("add_to_cart", "A", "B", time_ms=1_764_000_000_123)
    rows = _parse(outbound_batch(5, event))

    assert [(row.item_id, row.event_type) for row in rows] == [
        ("A", "add_to_cart"),
        ("B", "add_to_cart"),
    ]
    assert {row.occurred_at_ms for row in rows} == {1_764_000_000_123}
    assert {row.session_id for row in rows} == {event["data"]["session_uuid"]}
    assert rows[0].key != rows[1].key
    assert {row.event_key for row in rows} == {
        f"message_id:{event['data']['message_id']}"
    }


def test_event_without_time_takes_the_batch_time_then_the_receive_time() -> None:
    event = product_event("view_detail", "A")
    del event["data"]["timestamp_unixtime_ms"]
    outbound = outbound_batch(5, event)
    assert _parse(outbound)[0].occurred_at_ms == outbound["timestamp_unixtime_ms"]

    inbound = inbound_batch(5, event)
    assert _parse(inbound)[0].occurred_at_ms == OPTIONS.received_at_ms


def test_numeric_session_id_is_used_when_there_is_no_session_uuid() -> None:
    event = product_event("view_detail", "A", session=None)
    assert _parse(outbound_batch(5, event))[0].session_id == str(
        event["data"]["session_id"]
    )


def test_actions_outside_the_configured_set_and_other_events_give_nothing() -> None:
    batch = outbound_batch(
        5,
        product_event("checkout", "A"),
        product_event("remove_from_wish_list", "B"),
        screen_view(),
        {"event_type": "some_future_type", "data": {"anything": [1, 2]}},
    )
    parsed = parse_batch(batch, OPTIONS)
    assert list(parsed.interactions) == []
    assert parsed.event_count == 4
    assert len(parsed.events) == 4


@pytest.mark.parametrize("action", ["remove_from_wishlist", "addToCart", "PURCHASE"])
def test_product_actions_are_spelled_as_mparticle_spells_them(action) -> None:
    with pytest.raises(ValueOutOfRange, match=r"product_action\.action"):
        _parse(outbound_batch(5, product_event(action, "A")))


def test_products_without_an_id_are_skipped_and_numeric_ids_become_strings() -> None:
    event = product_event("purchase", "A")
    event["data"]["product_action"]["products"] += [{"name": "no id"}, {"id": 1234}]
    assert [row.item_id for row in _parse(outbound_batch(5, event))] == ["A", "1234"]


def test_batch_without_mpid_is_kept_but_gives_no_interactions() -> None:
    parsed = parse_batch(inbound_batch(None, product_event("purchase", "A")), OPTIONS)
    assert parsed.mpid is None
    assert list(parsed.interactions) == []


def test_both_user_identity_shapes_parse() -> None:
    outbound = outbound_batch(5, product_event("view_detail", "A"))
    inbound = inbound_batch(5, product_event("view_detail", "A", outbound=False))
    assert isinstance(outbound["user_identities"], list)
    assert isinstance(inbound["user_identities"], dict)
    assert len(_parse(outbound)) == len(_parse(inbound)) == 1


def test_batch_key_prefers_batch_id_then_source_request_id_then_a_digest() -> None:
    outbound = outbound_batch(5, batch_id=123)
    assert parse_batch(outbound, OPTIONS).key == "batch_id:123"

    inbound = inbound_batch(5, request_id="req-1")
    assert parse_batch(inbound, OPTIONS).key == "source_request_id:req-1"

    del inbound["source_request_id"]
    digest = parse_batch(inbound, OPTIONS).key
    assert digest.startswith("sha256:")
    assert parse_batch(dict(reversed(inbound.items())), OPTIONS).key == digest
    assert parse_batch(inbound | {"mpid": 6}, OPTIONS).key != digest


def test_event_key_prefers_message_id_then_source_message_id_then_event_id() -> None:
    event = product_event("view_detail", "A")
    data = event["data"]
    data["source_message_id"] = "src-1"
    assert _parse(outbound_batch(5, event))[0].event_key.startswith("message_id:")
    del data["message_id"]
    assert _parse(outbound_batch(5, event))[0].event_key == "source_message_id:src-1"
    del data["source_message_id"]
    assert (
        _parse(outbound_batch(5, event))[0].event_key == f"event_id:{data['event_id']}"
    )
    del data["event_id"]
    digest = _parse(outbound_batch(5, event))[0].event_key
    assert digest.startswith("sha256:")
    # The digest covers the user: the same event of another user is another event.
    assert _parse(outbound_batch(6, event))[0].event_key != digest


def test_very_long_ids_are_digested_so_keys_fit_and_never_collide() -> None:
    first = product_event("view_detail", "A", message_id="m" * 1000)
    second = product_event("view_detail", "A", message_id="m" * 999 + "n")
    keys = {_parse(outbound_batch(5, e))[0].event_key for e in (first, second)}
    assert len(keys) == 2
    assert all(len(key) <= 300 for key in keys)


def test_recommendation_id_comes_from_the_product_or_else_the_event() -> None:
    event = product_event("add_to_cart", "A", "B")
    event["data"]["custom_attributes"] = {"recommendation_id": "rec-event"}
    event["data"]["product_action"]["products"][0]["custom_attributes"] = {
        "recommendation_id": "rec-product"
    }
    rows = _parse(outbound_batch(5, event))
    assert [row.recommendation_id for row in rows] == ["rec-product", "rec-event"]


def test_transaction_id_is_kept_on_purchases() -> None:
    event = product_event("purchase", "A")
    event["data"]["product_action"]["transaction_id"] = 5531
    assert _parse(outbound_batch(5, event))[0].transaction_id == "5531"


def test_product_impressions_become_impressions_not_interactions() -> None:
    event = {
        "event_type": "commerce_event",
        "data": {
            "message_id": "m-imp",
            "timestamp_unixtime_ms": 1_764_000_000_000,
            "session_uuid": "s-1",
            "product_impressions": [
                {"product_impression_list": "home", "products": [{"id": "A"}]},
                {"product_impression_list": "search", "products": [{"id": "B"}, {}]},
            ],
        },
    }
    parsed = parse_batch(outbound_batch(5, event), OPTIONS)
    assert list(parsed.interactions) == []
    assert [(i.item_id, i.list_name, i.session_id) for i in parsed.impressions] == [
        ("A", "home", "s-1"),
        ("B", "search", "s-1"),
    ]
    assert len({i.key for i in parsed.impressions}) == 2


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"events": [{"data": {}}]}, 'Required field "events[0].event_type"'),
        (
            {"events": [{"event_type": "custom_event"}]},
            'Required field "events[0].data"',
        ),
        ({"events": [{"event_type": "", "data": {}}]}, "events[0].event_type"),
        ({"events": "not a list"}, "events"),
        ({"events": [{"event_type": "screen_view", "data": 5}]}, "events[0].data"),
    ],
)
def test_shape_errors_are_bad_requests_naming_the_field(batch, message) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_batch(batch, OPTIONS)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"environment": "staging"}, "environment"),
        ({"timestamp_unixtime_ms": -1}, "timestamp_unixtime_ms"),
        ({"timestamp_unixtime_ms": 2**63}, "timestamp_unixtime_ms"),
    ],
)
def test_values_out_of_range_are_refused_naming_the_field(change, field) -> None:
    with pytest.raises(ValueOutOfRange, match=field):
        parse_batch(outbound_batch(5) | change, OPTIONS)


def test_overlong_item_id_is_refused_naming_it() -> None:
    event = product_event("view_detail", "x" * 257)
    with pytest.raises(ValueOutOfRange, match=r"products\[0\]\.id"):
        _parse(outbound_batch(5, event))


def test_a_bad_batch_anywhere_in_a_bulk_request_names_its_position() -> None:
    batches = [outbound_batch(1), outbound_batch(2) | {"mpid": 2**64}]
    with pytest.raises(ValueOutOfRange, match=r"\[1\]\.mpid"):
        parse_batches(batches, OPTIONS)


def test_a_batch_must_be_an_object() -> None:
    with pytest.raises(BadRequest, match="must be a JSON object"):
        parse_batches([outbound_batch(1), "nope"], OPTIONS)
