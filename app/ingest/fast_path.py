"""The ingest routes, called from the middleware stack without routing.

mParticle can send thousands of small batches a second. FastAPI's router,
its per-request exit stacks and exception middleware cost about a quarter of
what storing a 1-event batch costs, and the ingest routes need none of them:
they read their own body and state (see `endpoints`). This middleware calls
the route functions for exactly their paths and renders recloop's errors as
the app's handler does; anything else raised goes up to the server-error
middleware, as it would from the router.
"""

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.exceptions import RecloopError, error_response
from app.ingest.endpoints import router

_ROUTES: dict[str, BaseRoute] = {
    route.path: route
    for route in router.routes
    if "POST" in getattr(route, "methods", ())
}


class IngestFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # What the router would have set: RequestMetrics labels by it.
        scope["route"] = route
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)  # type: ignore[attr-defined]
        except RecloopError as exc:
            response = error_response(exc)
        await response(scope, receive, send)
