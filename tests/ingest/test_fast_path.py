"""The ingest routes called without routing: the same answers as through it."""

import pytest

from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path", ["/webhooks/mparticle", "/v2/events", "/v2/bulkevents"]
)
async def test_other_methods_still_reach_the_router(start_app, database, path) -> None:
    app = await start_app()
    response = await app.client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_a_trailing_slash_is_not_an_ingest_route(start_app, database) -> None:
    app = await start_app()
    batch = outbound_batch(1, product_event("view_detail", "SKU-1"))
    response = await app.client.post(
        "/webhooks/mparticle/", json=batch, follow_redirects=False
    )
    # The router's redirect, not a batch stored under another path.
    assert response.status_code == 307
    assert response.headers["location"].endswith("/webhooks/mparticle")


async def test_errors_raised_by_the_route_get_the_documented_shape(
    start_app, database
) -> None:
    app = await start_app()
    response = await app.client.post(
        "/webhooks/mparticle",
        content=b'{"mpid": 1, "events": [',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["code"] == "BAD_REQUEST"
    assert error["message"]
