"""The app factory and its OpenAPI document."""

import pytest

from app.config import Settings, UnsafeSettings
from app.main import create_app


def _openapi() -> dict:
    return create_app(Settings(_env_file=None)).openapi()


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _has_example(document: dict, content: dict) -> bool:
    return all(
        "example" in media
        or "examples" in media
        or "examples" in _resolve(document, media.get("schema", {}))
        for media in content.values()
    )


def test_every_route_is_described_with_examples() -> None:
    document = _openapi()
    operations = dict(_operations(document))
    assert {
        "POST /webhooks/mparticle",
        "POST /v2/events",
        "POST /v2/bulkevents",
        "GET /users/{mpid}/recs",
        "GET /healthz",
        "GET /readyz",
    } <= set(operations)
    for name, operation in operations.items():
        assert operation.get("description"), f"{name} has no description"
        if "requestBody" in operation:
            assert _has_example(document, operation["requestBody"]["content"]), name
        for status, response in operation["responses"].items():
            if "content" in response:
                assert _has_example(document, response["content"]), f"{name} {status}"


def test_ingest_routes_document_their_errors_and_the_batch_schema() -> None:
    document = _openapi()
    operation = document["paths"]["/v2/events"]["post"]
    assert {"202", "400", "401", "403", "413", "415", "422", "503"} <= set(
        operation["responses"]
    )
    assert "Batch" in document["components"]["schemas"]
    assert "ErrorResponse" in document["components"]["schemas"]


def test_the_app_refuses_unsafe_production_settings() -> None:
    with pytest.raises(UnsafeSettings, match="RECLOOP_INGEST_KEY"):
        create_app(Settings(_env_file=None, env="production"))
