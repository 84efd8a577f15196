"""Request examples for the API documentation: batches as mParticle sends them."""

import base64
import json
from typing import Any

# What the webhook (and Kinesis) output posts: outbound shape, array identities.
WEBHOOK: dict[str, Any] = {
    "schema_version": 2,
    "batch_id": 8170529451827236000,
    "environment": "production",
    "mpid": 7346244611012968789,
    "timestamp_unixtime_ms": 1764790000000,
    "user_identities": [
        {
            "identity_type": "customer_id",
            "identity": "c-1042",
            "timestamp_unixtime_ms": 1764700000000,
            "created_this_batch": False,
        }
    ],
    "events": [
        {
            "event_type": "commerce_event",
            "data": {
                "message_id": "2f7b2c64-6f1e-4c3e-9a55-0c5c1b7e8d11",
                "timestamp_unixtime_ms": 1764789990000,
                "session_uuid": "5e0c2b7e-1f0a-4f3e-8d8a-5b1f2c3d4e5f",
                "product_action": {
                    "action": "add_to_cart",
                    "products": [
                        {"id": "SKU-1001", "name": "Trail shoe", "price": 89.0}
                    ],
                },
            },
        }
    ],
}

# What /v2/events receives from mParticle's server SDKs: inbound shape.
EVENTS_API: dict[str, Any] = {
    "environment": "development",
    "mpid": 7346244611012968789,
    "source_request_id": "a3c1f6a2-9f3e-4b8e-8d2d-6c1e5b7a9f00",
    "user_identities": {"customerid": "c-1042", "email": "ana@example.com"},
    "events": [
        {
            "event_type": "commerce_event",
            "data": {
                "source_message_id": "0d4f1a9e-3c2b-4e5f-9a8b-7c6d5e4f3a2b",
                "timestamp_unixtime_ms": 1764789990000,
                "product_action": {
                    "action": "purchase",
                    "transaction_id": "T-5531",
                    "products": [{"id": "SKU-2002", "quantity": 1, "price": 24.5}],
                },
            },
        }
    ],
}


def request_body(
    schema_name: str,
    example: Any,
    *,
    many: bool = False,
    one_or_many: bool = False,
) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself.

    Ingest routes parse the body by hand (size limit while streaming, exact
    integers, 400 versus 422), so FastAPI cannot infer the body schema.
    """
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    array = {"type": "array", "items": ref, "maxItems": 100}
    if one_or_many:
        schema: dict[str, Any] = {"anyOf": [ref, array]}
    else:
        schema = array if many else ref
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


def firehose_request_body() -> dict[str, Any]:
    """`openapi_extra` for the Firehose route: a delivery of one webhook batch."""
    record = base64.b64encode(json.dumps(WEBHOOK).encode()).decode()
    example = {
        "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
        "timestamp": 1764790001599,
        "records": [{"data": record}],
    }
    schema = {
        "type": "object",
        "required": ["requestId", "records"],
        "properties": {
            "requestId": {"type": "string"},
            "timestamp": {"type": "integer"},
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "string",
                            "description": "One mParticle batch, as Base64 JSON.",
                        }
                    },
                },
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }
