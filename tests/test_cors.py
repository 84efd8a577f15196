"""CORS: answered for the recommendation routes only, for configured origins."""

import pytest

pytestmark = pytest.mark.anyio

ORIGIN = "https://shop.example"


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
