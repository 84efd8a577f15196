"""Write-back batches: a user's recommendations as mParticle Events API input.

Each batch sets the user attribute (a list of item ids, which mParticle keeps
on the profile) and records a custom event saying what was recommended when,
so email and analytics tools see both. The shape follows the official
inbound schema, which forbids unknown fields.

The batch's ids derive from the user and the list's recommendation_id, so a
list sent again (a retry after a lost answer) carries the same
`source_request_id` and mParticle, which deduplicates on it, applies it once.
"""

import time
import uuid
from collections.abc import Sequence
from typing import Any

# mParticle's limits on an attribute list: 1000 entries of 512 characters.
MAX_LIST_ENTRIES = 1000
MAX_ENTRY_CHARS = 512
# Event attribute values are capped at 4096 characters.
MAX_ATTRIBUTE_CHARS = 4096

WRITEBACK_NAMESPACE = uuid.UUID("0b7d1c4e-5a8f-4f7b-9e2d-3c6a1f0e8b54")


def batch_ids(mpid: int, recommendation_id: str) -> tuple[str, str]:
    """(source_request_id, source_message_id) for this user's list: stable UUIDs."""
    name = f"{mpid}:{recommendation_id}"
    return (
        str(uuid.uuid5(WRITEBACK_NAMESPACE, name)),
        str(uuid.uuid5(WRITEBACK_NAMESPACE, name + ":event")),
    )


def recommendations_batch(
    *,
    mpid: int,
    item_ids: Sequence[str],
    recommendation_id: str,
    source: str,
    environment: str,
    attribute_name: str,
    event_name: str,
    now_ms: int | None = None,
) -> dict[str, Any]:
    items = [item[:MAX_ENTRY_CHARS] for item in item_ids[:MAX_LIST_ENTRIES]]
    request_id, message_id = batch_ids(mpid, recommendation_id)
    return {
        "environment": environment,
        "mpid": mpid,
        "source_request_id": request_id,
        "user_attributes": {attribute_name: items},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": event_name,
                    "custom_event_type": "other",
                    "source_message_id": message_id,
                    "timestamp_unixtime_ms": now_ms or int(time.time() * 1000),
                    "custom_attributes": {
                        "item_ids": ",".join(items)[:MAX_ATTRIBUTE_CHARS],
                        "item_count": str(len(items)),
                        "recommendation_id": recommendation_id,
                        "source": source,
                    },
                },
            }
        ],
    }
