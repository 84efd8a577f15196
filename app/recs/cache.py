"""Reading a user's cached list: the hottest query recloop runs.

Apps ask for recommendations on every page view, and the answer is one row
by primary key. Through the ORM and the async driver that row costs far more
than the query itself (session, transaction, and on SQLite a hop to
aiosqlite's thread and back for each statement), so this read goes to the
driver directly: sqlite3 on the event loop for SQLite (a primary-key read in
WAL mode takes microseconds and never waits for the writer), an asyncpg pool
with a prepared statement for PostgreSQL. Writes keep going through
SQLAlchemy.
"""

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from pydantic_core import from_json
from sqlalchemy.engine import make_url

from app.db import Database, async_url
from app.models import CachedRecommendation

QUERY = (
    "SELECT items, recommendation_id, source, generated_at "
    "FROM recommendations WHERE mpid = {placeholder}"
)
# A reader that finds SQLite busy (a rare WAL recovery) waits this long, on
# the event loop, before the read falls back to the async engine.
SQLITE_BUSY_MS = 50
POSTGRESQL_POOL_SIZE = 4


@dataclass(frozen=True, slots=True)
class CachedList:
    mpid: int
    items: list[dict[str, Any]]
    recommendation_id: str
    source: str
    generated_at: datetime


class CacheReader(Protocol):
    async def get(self, mpid: int) -> CachedList | None: ...

    async def close(self) -> None: ...


def cache_reader(database: Database, database_url: str) -> CacheReader:
    """The fastest reader the database allows."""
    url = async_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresqlReader(database_url)
    if url.database and url.database != ":memory:":
        return SqliteReader(url.database, SessionReader(database))
    return SessionReader(database)


class SessionReader:
    """Through the ORM: for in-memory SQLite, and as the fallback."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, mpid: int) -> CachedList | None:
        async with self._database.read() as session:
            row = await session.get(CachedRecommendation, mpid)
        if row is None:
            return None
        return CachedList(
            row.mpid, row.items, row.recommendation_id, row.source, row.generated_at
        )

    async def close(self) -> None:
        return None


class SqliteReader:
    def __init__(self, path: str, fallback: SessionReader) -> None:
        self._path = path
        self._fallback = fallback
        self._connection: sqlite3.Connection | None = None
        self._query = QUERY.format(placeholder="?")

    async def get(self, mpid: int) -> CachedList | None:
        try:
            row = self._connect().execute(self._query, (mpid,)).fetchone()
        except sqlite3.OperationalError:
            return await self._fallback.get(mpid)
        if row is None:
            return None
        items, recommendation_id, source, generated_at = row
        # SQLAlchemy stores the UTC time without its zone on SQLite.
        generated = datetime.fromisoformat(generated_at).replace(tzinfo=UTC)
        return CachedList(mpid, from_json(items), recommendation_id, source, generated)

    def _connect(self) -> sqlite3.Connection:
        # Opened on first use: the schema is migrated by then.
        if self._connection is None:
            connection = sqlite3.connect(
                f"file:{self._path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            self._connection = connection
        return self._connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresqlReader:
    def __init__(self, database_url: str) -> None:
        # asyncpg reads the libpq URL itself, sslmode included.
        self._dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._pool: asyncpg.Pool | None = None
        self._connecting = asyncio.Lock()
        self._query = QUERY.format(placeholder="$1")

    async def get(self, mpid: int) -> CachedList | None:
        pool = await self._connect()
        row = await pool.fetchrow(self._query, mpid)
        if row is None:
            return None
        items = row["items"]
        return CachedList(
            mpid,
            json.loads(items) if isinstance(items, str) else items,
            row["recommendation_id"],
            row["source"],
            row["generated_at"].astimezone(UTC),
        )

    async def _connect(self) -> asyncpg.Pool:
        async with self._connecting:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=POSTGRESQL_POOL_SIZE
                )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
