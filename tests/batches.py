"""mParticle batches as mParticle really sends them, for tests.

`outbound_batch` is the webhook/Kinesis output shape (identities as a list,
`batch_id`, `message_id`); `inbound_batch` is the Events API shape that
server SDKs post (identities as an object, `customerid` as the Python SDK
spells it, `source_request_id`, `source_message_id`).
"""

import itertools
import uuid
from typing import Any

BASE_TIME_MS = 1_764_700_000_000
_counter = itertools.count(1)


def product_event(
    action: str,
    *skus: str,
    time_ms: int | None = None,
    message_id: str | None = None,
    outbound: bool = True,
    session: str | None = "5e0c2b7e-1f0a-4f3e-8d8a-5b1f2c3d4e5f",
) -> dict[str, Any]:
    n = next(_counter)
    data: dict[str, Any] = {
        "timestamp_unixtime_ms": time_ms or BASE_TIME_MS + n * 1000,
        "product_action": {
            "action": action,
            "products": [
                {"id": sku, "name": f"Product {sku}", "price": 19.99, "quantity": 1}
                for sku in skus
            ],
        },
        "currency_code": "USD",
    }
    if session:
        data["session_uuid"] = session
    if outbound:
        data["message_id"] = message_id or str(uuid.uuid4())
        data["event_id"] = 6_004_000_000_000_000_000 + n
        data["session_id"] = 1_000 + n
        data["event_start_unixtime_ms"] = data["timestamp_unixtime_ms"]
    else:
        data["source_message_id"] = message_id or str(uuid.uuid4())
    return {"event_type": "commerce_event", "data": data}


def screen_view(name: str = "Home") -> dict[str, Any]:
    return {
        "event_type": "screen_view",
        "data": {
            "screen_name": name,
            "timestamp_unixtime_ms": BASE_TIME_MS,
            "source_message_id": str(uuid.uuid4()),
        },
    }


def outbound_batch(
    mpid: int, *events: dict[str, Any], batch_id: int | None = None
) -> dict[str, Any]:
    return {
        "events": list(events),
        "device_info": {"platform": "iOS", "brand": "Apple", "os_version": "17.1"},
        "application_info": {"application_name": "Shop", "application_version": "4.2"},
        "user_attributes": {"$country": "US", "loyalty_tier": "gold"},
        "deleted_user_attributes": [],
        "user_identities": [
            {
                "identity_type": "customer_id",
                "identity": f"c-{mpid}",
                "timestamp_unixtime_ms": BASE_TIME_MS,
                "created_this_batch": False,
            },
            {"identity_type": "email", "identity": f"u{mpid}@example.com"},
        ],
        "environment": "production",
        "schema_version": 2,
        "source_info": {"channel": "native", "partner": "", "is_historical": False},
        "mpid": mpid,
        "batch_id": batch_id
        if batch_id is not None
        else 8_000_000_000_000_000_000 + next(_counter),
        "timestamp_unixtime_ms": BASE_TIME_MS,
        "mp_deviceid": str(uuid.uuid4()),
        "system_notifications": [],
        "message_id": str(uuid.uuid4()),
    }


def inbound_batch(
    mpid: int | str | None, *events: dict[str, Any], request_id: str | None = None
) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "environment": "development",
        "user_identities": {"customerid": f"c-{mpid}", "email": f"u{mpid}@example.com"},
        "user_attributes": {"$firstname": "Ana"},
        "source_request_id": request_id or str(uuid.uuid4()),
        "events": list(events),
    }
    if mpid is not None:
        batch["mpid"] = mpid
    return batch
