"""Simulated sessions as mParticle batches, in either shape mParticle uses.

`outbound` is what mParticle's webhook output sends (identities as a list,
`batch_id`, `message_id`, numeric `session_id`); `inbound` is what server
SDKs post to the Events API (identities as an object, `source_request_id`,
`source_message_id`). Ids derive from the simulation's seed, so the same
simulation always yields the same batches and re-posting them is a no-op.
"""

import random
import uuid
from collections.abc import Iterator
from itertools import groupby
from typing import Any, Literal

from app.simulation.shopping import ShopperEvent, Simulation

Shape = Literal["outbound", "inbound"]


def session_batches(simulation: Simulation, shape: Shape) -> Iterator[dict[str, Any]]:
    """One batch per session, sessions in the order they happened."""
    ids = random.Random(simulation.config.seed)  # noqa: S311 - ids, not secrets
    sessions = sorted(simulation.sessions(), key=lambda group: group[0].time_ms)
    for events in sessions:
        yield _batch(simulation, events, shape, ids)


def _batch(
    simulation: Simulation,
    events: list[ShopperEvent],
    shape: Shape,
    ids: random.Random,
) -> dict[str, Any]:
    mpid = events[0].mpid
    session_uuid = str(uuid.UUID(int=ids.getrandbits(128), version=4))
    commerce = [
        _commerce_event(simulation, group, session_uuid, shape, ids)
        for group in _product_actions(events)
    ]
    if shape == "inbound":
        return {
            "environment": "development",
            "mpid": mpid,
            "source_request_id": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
            "user_identities": {
                "customer_id": f"shopper-{mpid}",
                "email": f"shopper{abs(mpid)}@example.com",
            },
            "events": commerce,
        }
    return {
        "events": commerce,
        "device_info": {"platform": "iOS", "brand": "Apple", "os_version": "17.4"},
        "application_info": {"application_name": "Shop", "application_version": "5.1"},
        "user_attributes": {},
        "deleted_user_attributes": [],
        "user_identities": [
            {"identity_type": "customer_id", "identity": f"shopper-{mpid}"},
            {"identity_type": "email", "identity": f"shopper{abs(mpid)}@example.com"},
        ],
        "environment": "production",
        "schema_version": 2,
        "source_info": {"channel": "native", "partner": "", "is_historical": False},
        "mpid": mpid,
        "batch_id": ids.getrandbits(62),
        "timestamp_unixtime_ms": events[-1].time_ms,
        "mp_deviceid": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
        "message_id": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
    }


def _product_actions(events: list[ShopperEvent]) -> Iterator[list[ShopperEvent]]:
    """A checkout buys all its items in one purchase event; others are one each."""
    for (action, _time), group in groupby(events, key=lambda e: (e.action, e.time_ms)):
        members = list(group)
        if action == "purchase":
            yield members
        else:
            yield from ([event] for event in members)


def _commerce_event(
    simulation: Simulation,
    group: list[ShopperEvent],
    session_uuid: str,
    shape: Shape,
    ids: random.Random,
) -> dict[str, Any]:
    first = group[0]
    products = [_product(simulation, event) for event in group]
    action: dict[str, Any] = {"action": first.action, "products": products}
    if first.action in ("purchase", "refund"):
        action["transaction_id"] = f"T-{ids.getrandbits(40):x}"
        action["total_amount"] = round(sum(p["price"] for p in products), 2)
    data: dict[str, Any] = {
        "timestamp_unixtime_ms": first.time_ms,
        "session_uuid": session_uuid,
        "product_action": action,
        "currency_code": "USD",
    }
    event_uuid = str(uuid.UUID(int=ids.getrandbits(128), version=4))
    if shape == "inbound":
        data["source_message_id"] = event_uuid
    else:
        data["message_id"] = event_uuid
        data["event_id"] = ids.getrandbits(62)
        data["session_id"] = first.session
        data["event_start_unixtime_ms"] = first.time_ms
    return {"event_type": "commerce_event", "data": data}


def _product(simulation: Simulation, event: ShopperEvent) -> dict[str, Any]:
    catalog = simulation.catalog
    return {
        "id": catalog.item_ids[event.item],
        "name": f"Product {catalog.item_ids[event.item]}",
        "category": f"category-{catalog.categories[event.item]}",
        "price": float(catalog.prices[event.item]),
        "quantity": 1,
    }


def restamped(batch: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The batch as if it happened now: events keep their order and spacing
    within the batch, shifted so the first is at `now_ms`."""
    events = batch["events"]
    first = events[0]["data"]["timestamp_unixtime_ms"] if events else now_ms
    shift = now_ms - first
    for event in events:
        data = event["data"]
        data["timestamp_unixtime_ms"] += shift
        if "event_start_unixtime_ms" in data:
            data["event_start_unixtime_ms"] += shift
    if "timestamp_unixtime_ms" in batch:
        batch["timestamp_unixtime_ms"] += shift
    return batch
