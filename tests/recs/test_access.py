"""Who may read recommendations: the optional bearer token."""

import pytest

pytestmark = pytest.mark.anyio


async def test_without_a_token_setting_recs_are_open(start_app, database) -> None:
    app = await start_app()
    app.client.auth = None
    assert (await app.client.get("/users/1/recs")).status_code == 200


async def test_with_a_token_recs_want_the_bearer_token(start_app, database) -> None:
    app = await start_app(recs_token="recs-token-value")
    app.client.auth = None

    missing = await app.client.get("/users/1/recs")
    wrong = await app.client.get(
        "/users/1/recs", headers={"Authorization": "Bearer nope"}
    )
    basic = await app.client.get(
        "/users/1/recs", headers={"Authorization": "Basic recs-token-value"}
    )
    right = await app.client.get(
        "/users/1/recs", headers={"Authorization": "Bearer recs-token-value"}
    )

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="recommendations"'
    assert wrong.status_code == basic.status_code == 403
    assert right.status_code == 200


async def test_the_recs_token_opens_nothing_else(start_app, database) -> None:
    app = await start_app(recs_token="recs-token-value")
    app.client.auth = None
    bearer = {"Authorization": "Bearer recs-token-value"}
    ingest = await app.client.post("/v2/bulkevents", json=[], headers=bearer)
    assert ingest.status_code == 403
