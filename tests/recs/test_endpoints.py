"""GET /users/{mpid}/recs: the contract's shape, caching headers, bad input."""

from datetime import datetime

import pytest

from tests.batches import inbound_batch, outbound_batch, product_event
from tests.recs.shoppers import BIG_MPID, app_with_cached_lists

pytestmark = pytest.mark.anyio


async def test_a_known_user_gets_the_contracts_shape(start_app, database) -> None:
    app = await app_with_cached_lists(start_app)
    response = await app.client.get(f"/users/{BIG_MPID}/recs")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"mpid", "items", "recommendation_id", "source", "generated_at"}
    assert body["mpid"] == str(BIG_MPID)
    assert body["source"] == "embedded"
    assert len(body["items"]) == 5
    assert all(set(item) == {"item_id", "score"} for item in body["items"])
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert datetime.fromisoformat(body["generated_at"]).tzinfo is not None


async def test_an_unknown_user_gets_popular_items(start_app, database) -> None:
    app = await app_with_cached_lists(start_app)
    body = (await app.client.get("/users/999/recs")).json()
    assert body["source"] == "popular"
    assert body["mpid"] == "999"
    assert len(body["items"]) == 5


async def test_an_empty_store_answers_an_empty_popular_list(start_app, database):
    app = await start_app()
    body = (await app.client.get("/users/1/recs")).json()
    assert (body["source"], body["items"]) == ("popular", [])


async def test_n_picks_how_many_items(start_app, database) -> None:
    app = await app_with_cached_lists(start_app)
    short = (await app.client.get("/users/100/recs?n=2")).json()
    longer = (await app.client.get("/users/100/recs?n=8")).json()
    default = (await app.client.get("/users/100/recs")).json()

    assert len(short["items"]) == 2
    assert len(default["items"]) == 5
    assert 5 < len(longer["items"]) <= 8
    assert [item["item_id"] for item in longer["items"][:5]] == [
        item["item_id"] for item in default["items"]
    ]


@pytest.mark.parametrize("n", ["0", "101", "-1", "five"])
async def test_n_out_of_range_is_422_naming_it(start_app, database, n) -> None:
    app = await start_app()
    response = await app.client.get(f"/users/1/recs?n={n}")
    assert response.status_code == 422
    assert "n" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("mpid", ["abc", "1.5", "9223372036854775808", "1e3"])
async def test_an_invalid_mpid_is_422_naming_it(start_app, database, mpid) -> None:
    app = await start_app()
    response = await app.client.get(f"/users/{mpid}/recs")
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"].startswith("mpid:")


async def test_negative_mpids_are_users_too(start_app, database) -> None:
    app = await start_app()
    batch = inbound_batch(-5, product_event("view_detail", "A", outbound=False))
    await app.client.post("/v2/events", json=batch)
    body = (await app.client.get("/users/-5/recs")).json()
    assert body["mpid"] == "-5"


async def test_etag_and_cache_control_let_apps_and_cdns_cache(start_app, database):
    app = await app_with_cached_lists(start_app, recs_max_age_seconds=30)
    first = await app.client.get("/users/100/recs")
    etag = first.headers["etag"]

    again = await app.client.get("/users/100/recs", headers={"If-None-Match": etag})
    weak = await app.client.get(
        "/users/100/recs", headers={"If-None-Match": f'W/{etag}, "other"'}
    )
    other_n = await app.client.get(
        "/users/100/recs?n=3", headers={"If-None-Match": etag}
    )

    assert first.headers["cache-control"] == "max-age=30"
    assert again.status_code == weak.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert other_n.status_code == 200


async def test_the_etag_changes_when_the_list_changes(start_app, database) -> None:
    app = await app_with_cached_lists(start_app)
    before = (await app.client.get("/users/100/recs")).headers["etag"]
    bought = [
        item["item_id"]
        for item in (await app.client.get("/users/100/recs")).json()["items"]
    ]
    await app.client.post(
        "/webhooks/mparticle",
        json=outbound_batch(100, product_event("purchase", *bought)),
    )
    await app.run_jobs()
    after = await app.client.get("/users/100/recs")
    assert after.headers["etag"] != before
    assert not set(bought) & {item["item_id"] for item in after.json()["items"]}
