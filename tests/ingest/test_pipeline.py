"""Storing a request's batches: all or nothing, and 503 when storage is down."""

import pytest

from app.db import Database
from app.ingest.writer import IngestWriter
from tests.batches import inbound_batch, product_event
from tests.server import free_port

pytestmark = pytest.mark.anyio


async def test_unavailable_storage_is_503_with_retry_after(start_app, database):
    app = await start_app()
    unreachable = Database.from_url(f"postgresql://recloop@127.0.0.1:{free_port()}/x")
    working = app.runtime.ingest_writer
    app.runtime.ingest_writer = IngestWriter(unreachable, None)
    app.runtime.ingest_writer.start()
    try:
        response = await app.client.post(
            "/v2/events",
            json=inbound_batch(1, product_event("purchase", "A", outbound=False)),
        )
    finally:
        await app.runtime.ingest_writer.stop()
        app.runtime.ingest_writer = working
        await unreachable.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
