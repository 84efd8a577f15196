"""GET /users/{mpid}/recs cache hits, answered before FastAPI routes them.

Apps ask on every page view, and a hit is one primary-key read. Routing,
the exception middleware and the request objects cost more than that read,
so this middleware answers the plain case itself: a valid MPID, no query or
`n=<digits>`, the right token when one is configured, and a cached list.
Everything else (a miss, bad input, a wrong or missing token) goes on to
the route, which answers it (and errors) as documented. The answer itself
is `render_recs`, the route's own.
"""

import re

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import bearer_matches
from app.ingest.schemas import INT64_MAX, INT64_MIN
from app.recs.endpoints import DEFAULT_N, MAX_N, render_recs, router

# What the router would have set in the scope: RequestMetrics labels by it.
_ROUTE: BaseRoute = next(
    route
    for route in router.routes
    if getattr(route, "path", "") == "/users/{mpid}/recs"
)
_PATH = re.compile(r"/users/(-?[0-9]{1,19})/recs")
_QUERY = re.compile(rb"n=([0-9]{1,3})")


class CachedRecsFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _PATH.fullmatch(scope["path"])
            if match is not None and await self._answered(
                scope, receive, send, int(match[1])
            ):
                return
        await self.app(scope, receive, send)

    async def _answered(
        self, scope: Scope, receive: Receive, send: Send, mpid: int
    ) -> bool:
        n = _n(scope["query_string"])
        if n is None or not INT64_MIN <= mpid <= INT64_MAX:
            return False
        app: FastAPI = scope["app"]
        settings = app.state.settings
        authorization = if_none_match = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        token = settings.recs_token
        if token is not None and not bearer_matches(authorization, token):
            return False
        served = await app.state.recs.cached(mpid, n)
        if served is None:
            return False
        scope["route"] = _ROUTE
        status, headers, body = render_recs(
            served, n, settings.recs_max_age_seconds, if_none_match
        )
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})
        return True


def _n(query_string: bytes) -> int | None:
    if not query_string:
        return DEFAULT_N
    match = _QUERY.fullmatch(query_string)
    if match is None:
        return None
    n = int(match[1])
    return n if 1 <= n <= MAX_N else None
