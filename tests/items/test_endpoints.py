import pytest
from sqlalchemy import func, select

from app.models import ModelSnapshot
from tests.batches import outbound_batch, product_event

pytestmark = pytest.mark.anyio


async def _shop(app) -> None:
    # Shoppers who view the kettle also view the teapot; mugs go with plates.
    batches = [
        outbound_batch(100 + u, product_event("view_detail", "KETTLE", "TEAPOT"))
        for u in range(4)
    ] + [
        outbound_batch(200 + u, product_event("view_detail", "MUG", "PLATE"))
        for u in range(3)
    ]
    response = await app.client.post("/webhooks/mparticle", json=batches)
    assert response.status_code == 202
    await app.retrain()


async def test_similar_items_of_a_product(start_app):
    app = await start_app()
    await _shop(app)

    response = await app.client.get("/items/KETTLE/similar", params={"n": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["item_id"] == "KETTLE"
    assert body["source"] == "embedded"
    assert [item["item_id"] for item in body["items"]] == ["TEAPOT"]
    assert body["items"][0]["score"] > 0
    assert response.headers["cache-control"] == "max-age=60"


async def test_an_unknown_item_is_a_404_naming_it(start_app):
    app = await start_app()
    await _shop(app)
    response = await app.client.get("/items/NOPE/similar")
    assert response.status_code == 404
    assert response.json() == {
        "errors": [
            {
                "code": "NOT_FOUND",
                "message": "item_id: 'NOPE' is unknown to the recommender",
            }
        ]
    }


@pytest.mark.parametrize("n", ["0", "101", "many"])
async def test_n_out_of_range_is_refused(start_app, n):
    app = await start_app()
    response = await app.client.get("/items/KETTLE/similar", params={"n": n})
    assert response.status_code == 422
    assert "query.n" in response.json()["errors"][0]["message"]


async def test_the_etag_answers_304_until_the_model_changes(start_app, database):
    app = await start_app()
    await _shop(app)
    first = await app.client.get("/items/MUG/similar")
    etag = first.headers["etag"]

    again = await app.client.get("/items/MUG/similar", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag

    more = [
        outbound_batch(300 + u, product_event("view_detail", "MUG", "SAUCER"))
        for u in range(6)
    ]
    await app.client.post("/webhooks/mparticle", json=more)
    await app.retrain()
    changed = await app.client.get(
        "/items/MUG/similar", headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["items"][0]["item_id"] == "SAUCER"
    async with database.read() as session:
        assert (
            await session.scalar(select(func.count()).select_from(ModelSnapshot)) == 2
        )
