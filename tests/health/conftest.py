from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.db import Database
from tests.server import free_port


@asynccontextmanager
async def unreachable_database(app) -> AsyncIterator[None]:
    """Point the running app's routes at a database nobody listens for."""
    working = app.app.state.database
    app.app.state.database = Database.from_url(
        f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    )
    try:
        yield
    finally:
        await app.app.state.database.dispose()
        app.app.state.database = working
