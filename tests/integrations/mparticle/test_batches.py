"""Write-back batches: valid against mParticle's schema, within its limits."""

import uuid

from app.integrations.mparticle.batches import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ENTRY_CHARS,
    MAX_LIST_ENTRIES,
    recommendations_batch,
)

BIG_MPID = -7_346_244_611_012_968_789


def _batch(item_ids, **overrides):
    values = {
        "mpid": BIG_MPID,
        "item_ids": item_ids,
        "recommendation_id": "9b2e4c1a-2f55-4c8e-a1f0-3d2b6e7c8a90",
        "source": "embedded",
        "environment": "production",
        "attribute_name": "product_recs",
        "event_name": "recloop_recommendations",
        "now_ms": 1_764_790_000_000,
    }
    return recommendations_batch(**(values | overrides))


def test_batch_sets_the_attribute_and_records_what_was_recommended(
    inbound_schema,
) -> None:
    batch = _batch(["SKU-1", "SKU-2"])

    inbound_schema.validate(batch)
    assert batch["mpid"] == BIG_MPID
    assert batch["environment"] == "production"
    assert batch["user_attributes"] == {"product_recs": ["SKU-1", "SKU-2"]}
    [event] = batch["events"]
    assert event["event_type"] == "custom_event"
    data = event["data"]
    assert (data["event_name"], data["custom_event_type"]) == (
        "recloop_recommendations",
        "other",
    )
    assert data["timestamp_unixtime_ms"] == 1_764_790_000_000
    assert data["custom_attributes"] == {
        "item_ids": "SKU-1,SKU-2",
        "item_count": "2",
        "recommendation_id": "9b2e4c1a-2f55-4c8e-a1f0-3d2b6e7c8a90",
        "source": "embedded",
    }


def test_ids_are_uuids_stable_for_one_list_and_new_for_another() -> None:
    first, again = _batch(["A"]), _batch(["A"])
    other_list = _batch(["A"], recommendation_id="1f4c9a2e-7d3b-4e8a-b5c6-0a9d8e7f6b5c")
    other_user = _batch(["A"], mpid=42)

    def ids(batch):
        return (
            batch["source_request_id"],
            batch["events"][0]["data"]["source_message_id"],
        )

    # A retry of the same list is the same request to mParticle, which
    # deduplicates on source_request_id.
    assert ids(first) == ids(again)
    assert len({*ids(first), *ids(other_list), *ids(other_user)}) == 6
    assert all(uuid.UUID(value).version == 5 for value in ids(first))


def test_names_and_environment_are_the_configured_ones(inbound_schema) -> None:
    batch = _batch(
        ["A"],
        attribute_name="recs_v2",
        event_name="recs_updated",
        environment="development",
    )
    inbound_schema.validate(batch)
    assert list(batch["user_attributes"]) == ["recs_v2"]
    assert batch["events"][0]["data"]["event_name"] == "recs_updated"
    assert batch["environment"] == "development"


def test_an_empty_list_is_still_a_valid_batch(inbound_schema) -> None:
    batch = _batch([])
    inbound_schema.validate(batch)
    assert batch["user_attributes"]["product_recs"] == []


def test_lists_and_values_are_cut_to_mparticles_limits(inbound_schema) -> None:
    batch = _batch(["x" * 600] * (MAX_LIST_ENTRIES + 5))

    inbound_schema.validate(batch)
    recs = batch["user_attributes"]["product_recs"]
    assert len(recs) == MAX_LIST_ENTRIES
    assert {len(item) for item in recs} == {MAX_ENTRY_CHARS}
    attributes = batch["events"][0]["data"]["custom_attributes"]
    assert len(attributes["item_ids"]) == MAX_ATTRIBUTE_CHARS
