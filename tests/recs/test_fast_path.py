"""The cache-hit fast path: what it answers itself, and what it leaves to the route."""

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from app.recs.fast_path import CachedRecsFastPath
from tests.recs.shoppers import BIG_MPID, app_with_cached_lists

pytestmark = pytest.mark.anyio

TOKEN = "recs-token-value-for-tests"


class Route:
    """Stands in for everything behind the fast path, and records what reached it."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached.append(f"{scope['method']} {scope['path']}")
        await PlainTextResponse("routed", status_code=299)(scope, receive, send)


def _fast_path_client(app, route: Route) -> httpx.AsyncClient:
    fast_path = CachedRecsFastPath(route)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app.app  # as Starlette sets it before its middleware
        await fast_path(scope, receive, send)

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=with_app), base_url="http://recloop.test"
    )


async def test_a_cache_hit_is_answered_exactly_as_the_route_answers(
    start_app, database
) -> None:
    app = await app_with_cached_lists(start_app)
    route = Route()
    async with _fast_path_client(app, route) as client:
        fast = await client.get(f"/users/{BIG_MPID}/recs?n=3")
    # An extra query parameter takes the full app's request past the fast path.
    routed = await app.client.get(f"/users/{BIG_MPID}/recs?n=3&page=home")

    assert route.reached == []
    assert fast.status_code == routed.status_code == 200
    assert fast.json() == routed.json()
    assert len(fast.json()["items"]) == 3
    assert fast.headers["etag"] == routed.headers["etag"]
    assert fast.headers["cache-control"] == routed.headers["cache-control"]
    assert fast.headers["content-type"] == routed.headers["content-type"]


async def test_a_matching_etag_gets_304_from_the_fast_path(start_app, database):
    app = await app_with_cached_lists(start_app)
    route = Route()
    async with _fast_path_client(app, route) as client:
        etag = (await client.get(f"/users/{BIG_MPID}/recs")).headers["etag"]
        again = await client.get(
            f"/users/{BIG_MPID}/recs", headers={"If-None-Match": f'W/{etag}, "other"'}
        )
    assert route.reached == []
    assert again.status_code == 304
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(
    "path",
    [
        "/users/999/recs",  # not cached: the route computes popular items
        f"/users/{BIG_MPID}/recs?n=0",
        f"/users/{BIG_MPID}/recs?n=101",
        f"/users/{BIG_MPID}/recs?n=abc",
        f"/users/{BIG_MPID}/recs?n=3&n=4",
        "/users/9223372036854775808/recs",  # beyond signed 64 bits
        "/users/12x/recs",
        f"/users/{BIG_MPID}/recs/",
        f"/users/{BIG_MPID}",
    ],
)
async def test_everything_but_a_plain_hit_goes_to_the_route(
    start_app, database, path: str
) -> None:
    app = await app_with_cached_lists(start_app)
    route = Route()
    async with _fast_path_client(app, route) as client:
        response = await client.get(path)
    assert response.status_code == 299
    assert route.reached == [f"GET {path.split('?')[0]}"]


async def test_other_methods_go_to_the_route(start_app, database) -> None:
    app = await app_with_cached_lists(start_app)
    route = Route()
    async with _fast_path_client(app, route) as client:
        await client.delete(f"/users/{BIG_MPID}/recs")
    assert route.reached == [f"DELETE /users/{BIG_MPID}/recs"]


@pytest.mark.parametrize(
    ("authorization", "answered"),
    [
        (None, False),
        ("Bearer wrong-token", False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
    ],
)
async def test_with_a_token_configured_only_the_right_one_is_answered_here(
    start_app, database, authorization: str | None, answered: bool
) -> None:
    app = await app_with_cached_lists(start_app, recs_token=TOKEN)
    route = Route()
    headers = {"Authorization": authorization} if authorization else {}
    async with _fast_path_client(app, route) as client:
        response = await client.get(f"/users/{BIG_MPID}/recs", headers=headers)
    assert (response.status_code == 200) is answered
    assert (route.reached == []) is answered


async def test_fast_answers_are_counted_under_the_route_template(
    start_app, database
) -> None:
    app = await app_with_cached_lists(start_app)
    before = await _hits_counted(app)
    await app.client.get(f"/users/{BIG_MPID}/recs")
    await app.client.get(f"/users/{BIG_MPID}/recs")

    assert await _hits_counted(app) == before + 2
    assert str(BIG_MPID) not in (await app.client.get("/metrics")).text


async def _hits_counted(app) -> float:
    """recloop_http_requests_total for 200s of the recs route (the registry is
    the process's, so other tests' requests are in it too)."""
    for line in (await app.client.get("/metrics")).text.splitlines():
        if (
            line.startswith("recloop_http_requests_total{")
            and 'route="/users/{mpid}/recs"' in line
            and 'status="200"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
