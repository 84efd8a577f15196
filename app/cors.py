"""CORS for the recommendation routes only.

Front-end apps read recommendations from the browser; nothing else is
meant for a browser. Ingest and admin never answer a cross-origin request,
whatever `RECLOOP_CORS_ORIGINS` says.
"""

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

# Routes tagged so in the OpenAPI document are the browser-facing ones.
BROWSER_TAG = "recommendations"


class RecommendationCORS:
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET"],
            allow_headers=["Authorization", "If-None-Match"],
            expose_headers=["ETag"],
            max_age=600,
        )
        self._paths: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_browser_route(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _is_browser_route(self, scope: Scope) -> bool:
        if self._paths is None:
            # The OpenAPI document is the public list of routes and their tags.
            self._paths = [
                compile_path(path)[0]
                for path, operations in scope["app"].openapi()["paths"].items()
                if any(BROWSER_TAG in op.get("tags", []) for op in operations.values())
            ]
        return any(pattern.match(scope["path"]) for pattern in self._paths)
