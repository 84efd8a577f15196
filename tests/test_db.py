"""Database URLs and the two transaction kinds."""

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.db import Database, UnsupportedDatabase, async_url, chunks, is_transient

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///recloop.db", "sqlite+aiosqlite"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_plain_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert async_url(given).drivername == driver


def test_libpq_sslmode_becomes_asyncpgs_ssl() -> None:
    url = async_url("postgresql://u@h/db?sslmode=require")
    assert dict(url.query) == {"ssl": "require"}


@pytest.mark.parametrize("url", ["mysql://u@h/db", "oracle://u@h/db"])
def test_other_databases_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(UnsupportedDatabase, match="RECLOOP_DATABASE_URL"):
        async_url(url)


def test_chunks_cover_everything_in_order() -> None:
    assert [list(c) for c in chunks(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_write_rolls_back_on_error(database: Database) -> None:
    async def failing_write() -> None:
        async with database.write() as session:
            await session.execute(
                text(
                    "INSERT INTO recommendations (mpid, items, recommendation_id, "
                    "source, generated_at) VALUES (1, '[]', 'r', 'popular', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await failing_write()
    async with database.read() as session:
        assert await session.scalar(text("SELECT count(*) FROM recommendations")) == 0


async def _write_slowly(database: Database, mpid: int) -> None:
    """A write transaction that holds the write lock a while."""
    async with database.write() as session:
        await session.execute(
            text(
                "INSERT INTO recommendations (mpid, items, recommendation_id, "
                "source, generated_at) VALUES (:mpid, '[]', 'r', 'popular', "
                "CURRENT_TIMESTAMP)"
            ),
            {"mpid": mpid},
        )
        await asyncio.sleep(0.01)


async def test_concurrent_writers_queue_instead_of_failing(database: Database) -> None:
    await asyncio.gather(*(_write_slowly(database, mpid) for mpid in range(20)))
    async with database.read() as session:
        assert await session.scalar(text("SELECT count(*) FROM recommendations")) == 20


async def test_sqlite_writers_of_one_process_queue_without_the_busy_timeout(
    database_url: str,
) -> None:
    """With no busy timeout at all, a writer that found SQLite's lock taken
    would fail at once: the process's own writers must wait their turn first."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    database = Database.from_url(database_url)

    def no_busy_timeout(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(database.engine.sync_engine, "connect", no_busy_timeout)
    try:
        async with database.write() as session:
            await session.execute(text("DELETE FROM recommendations"))

        await asyncio.gather(*(_write_slowly(database, mpid) for mpid in range(10)))
        async with database.read() as session:
            count = await session.scalar(text("SELECT count(*) FROM recommendations"))
        assert count == 10
    finally:
        await database.dispose()


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (DBAPIError("INSERT", {}, _PgError("40P01")), True),
        (DBAPIError("INSERT", {}, _PgError("40001")), True),
        (DBAPIError("INSERT", {}, _PgError("23505")), False),
        (OperationalError("SELECT", {}, Exception("database is locked")), True),
        (ConnectionRefusedError(), True),
        (ValueError("a bug"), False),
    ],
)
def test_deadlocks_and_outages_are_transient_bugs_are_not(error, transient) -> None:
    assert is_transient(error) is transient
