"""Database engine and sessions for SQLite and PostgreSQL.

Users give plain URLs (``sqlite:///recloop.db``, ``postgresql://u@h/db``);
recloop picks the async driver itself so the same URL also works for psql.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")

SQLITE_BEGIN = "recloop_sqlite_begin"
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}

# libpq spells TLS as sslmode=...; asyncpg takes the same values as ssl=...
_LIBPQ_TO_ASYNCPG = {"sslmode": "ssl"}


# PostgreSQL errors a retry can cure: serialization failure, deadlock, lock
# not available, the server shutting down or not yet accepting connections.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P03"})


def is_transient(exc: BaseException) -> bool:
    """Whether a failed transaction may succeed if simply tried again."""
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return exc.connection_invalidated or sqlstate in TRANSIENT_SQLSTATES
    return False


class UnsupportedDatabase(ValueError):
    """Raised for a database URL that is neither SQLite nor PostgreSQL."""


def async_url(database_url: str) -> URL:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in ASYNC_DRIVERS:
        raise UnsupportedDatabase(
            f"RECLOOP_DATABASE_URL must be sqlite:// or postgresql://, not {backend}://"
        )
    query = {_LIBPQ_TO_ASYNCPG.get(k, k): v for k, v in url.query.items()}
    return url.set(drivername=ASYNC_DRIVERS[backend], query=query)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, **kwargs)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _create_sqlite_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(
        url, connect_args={"timeout": 30}, pool_pre_ping=True, **kwargs
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; synchronous=FULL makes a
    # committed batch survive power loss as well as a killed process.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite_transaction(connection: Any) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine plus two ways in: read transactions and write transactions.

    SQLite in WAL mode refuses, without waiting, to upgrade a read transaction
    to a write once another writer has committed. Write transactions therefore
    take the write lock at BEGIN (``BEGIN IMMEDIATE``) and queue on the busy
    timeout instead; reads stay deferred so they never wait for writers.
    PostgreSQL needs neither and both paths are the same there.

    On SQLite, writers of one process also queue on an asyncio lock before
    BEGIN: SQLite's busy handler waits by sleeping (up to 100 ms a turn), so
    a commit that finds the lock taken would sleep long past its release.
    The busy timeout is then only for writers in other processes.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._readers = async_sessionmaker(engine, expire_on_commit=False)
        self._writers = async_sessionmaker(writer, expire_on_commit=False)
        # One lock per event loop: a lock belongs to the loop it first waits on.
        self._write_locks: (
            weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] | None
        ) = None if engine.dialect.name == "postgresql" else weakref.WeakKeyDictionary()

    @classmethod
    def from_url(cls, database_url: str, **kwargs: Any) -> "Database":
        return cls(create_engine(database_url, **kwargs))

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._readers() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on any error."""
        async with AsyncExitStack() as stack:
            if self._write_locks is not None:
                loop = asyncio.get_running_loop()
                lock = self._write_locks.setdefault(loop, asyncio.Lock())
                await stack.enter_async_context(lock)
            session = await stack.enter_async_context(self._writers())
            await stack.enter_async_context(session.begin())
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def upsert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support, for whichever database the session uses.

    Both dialects' insert constructs share the ``on_conflict_do_*`` API.
    """
    if session.bind.dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items, to keep statements bounded."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
