"""Request bodies: gzip as senders may send it, within the size limit."""

import gzip
import json

import pytest

from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio


def _gzip_headers(encoding: str = "gzip") -> dict[str, str]:
    return {"content-type": "application/json", "content-encoding": encoding}


async def test_a_gzipped_body_is_read(start_app, database) -> None:
    app = await start_app()
    batch = outbound_batch(1, product_event("purchase", "A", "B"))
    response = await app.client.post(
        "/webhooks/mparticle",
        content=gzip.compress(json.dumps(batch).encode()),
        headers=_gzip_headers(),
    )
    assert response.status_code == 202
    assert response.json()["interactions"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b'{"events": []}')[:-6], "ends early"),
    ],
)
async def test_broken_gzip_is_400(start_app, database, content, message) -> None:
    app = await start_app()
    response = await app.client.post(
        "/v2/events", content=content, headers=_gzip_headers()
    )
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


async def test_other_encodings_are_415_naming_them(start_app, database) -> None:
    app = await start_app()
    response = await app.client.post(
        "/v2/events", content=b"...", headers=_gzip_headers("br")
    )
    assert response.status_code == 415
    assert "br" in response.json()["errors"][0]["message"]


async def test_the_limit_holds_on_the_inflated_size(start_app, database) -> None:
    app = await start_app()
    bomb = gzip.compress(b'{"events": [], "x": "' + b"0" * 20_000_000 + b'"}')
    response = await app.client.post(
        "/v2/events", content=bomb, headers=_gzip_headers()
    )
    assert response.status_code == 413
