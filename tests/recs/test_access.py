"""Who may read recommendations: the optional bearer token and CORS."""

import pytest

pytestmark = pytest.mark.anyio

ORIGIN = "https://shop.example"


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


async def test_cors_answers_preflight_and_reads_for_configured_origins(
    start_app, database
) -> None:
    app = await start_app(cors_origins=[ORIGIN])
    preflight = await app.client.options(
        "/users/1/recs",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    read = await app.client.get("/users/1/recs", headers={"Origin": ORIGIN})
    stranger = await app.client.get(
        "/users/1/recs", headers={"Origin": "https://evil.example"}
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert read.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in read.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/events"), ("POST", "/webhooks/mparticle"), ("GET", "/admin/jobs")],
)
async def test_cors_is_never_opened_for_ingest_or_admin(
    start_app, database, method, path
) -> None:
    app = await start_app(cors_origins=["*"])
    preflight = await app.client.options(
        path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": method}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405
