"""Shared fixtures: a real database (SQLite or PostgreSQL), migrated by Alembic.

Set RECLOOP_TEST_DATABASE_URL to a PostgreSQL server URL to run the suite on
PostgreSQL; a fresh database is created on it for the run and dropped after.
Without it, the suite runs on a SQLite file in a temporary directory.
"""

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrations import upgrade_to_head
from app.models import Base
from app.recommenders.embedded.retraining import refresh_users_since
from tests.databases import scratch_postgresql
from tests.fakes.mparticle import FakeEventsApi

INGEST_AUTH = ("test-ingest-key", "test-ingest-secret")

# Fuzzing profiles: the suite's is small and derandomized, so it is fast and
# gives the same cases on every run; `HYPOTHESIS_PROFILE=fuzz-long` explores.
_FUZZ_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
hypothesis_settings.register_profile(
    "suite",
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=_FUZZ_HEALTH,
)
hypothesis_settings.register_profile(
    "fuzz-long", max_examples=500, deadline=None, suppress_health_check=_FUZZ_HEALTH
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
MPARTICLE_SCHEMA = (
    Path(__file__).parent / "fixtures/mparticle.inbound.eventsapi.schema.json"
)

# Fixtures that start local fake servers.
pytest_plugins = ["tests.fakes.personalize", "tests.fakes.personalize_control"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server_url = os.environ.get("RECLOOP_TEST_DATABASE_URL")
    if not server_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'recloop.db'}"
        upgrade_to_head(url)
        yield url
        return
    with scratch_postgresql(server_url, "recloop_test") as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(database_url)
    await _empty_tables(db)
    yield db
    await db.dispose()


async def _empty_tables(db: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with db.engine.begin() as connection:
        if db.is_postgresql:
            await connection.execute(
                text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - table names from our metadata


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "ingest_key": INGEST_AUTH[0],
            "ingest_secret": INGEST_AUTH[1],
            "worker_enabled": False,
            "retrain_min_interval_seconds": 3600,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


class RunningApp:
    """The app with its lifespan running, and an HTTP client for it."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def run_jobs(self) -> int:
        """Run the worker until no job is due; returns how many were handled."""
        handled = 0
        while count := sum([await w.run_once() for w in self.runtime.workers]):
            handled += count
        return handled

    async def retrain(self) -> None:
        """Retrain now, and queue the refreshes the background retrainer would."""
        previous, through = await self.runtime.recommender.retrain()
        await refresh_users_since(self.runtime.database, previous, through)


@pytest.fixture
async def start_app(
    database: Database, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Any] = []

    async def start(**overrides: Any) -> RunningApp:
        app = create_app(make_settings(**overrides))
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        started.append(context)
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(
            transport=transport, base_url="http://recloop.test", auth=INGEST_AUTH
        )
        return RunningApp(app, client)

    yield start
    for context in reversed(started):
        await context.__aexit__(None, None, None)


@pytest.fixture(scope="session")
def inbound_schema() -> jsonschema.Draft7Validator:
    """mParticle's official inbound batch schema, for what recloop sends."""
    schema = json.loads(MPARTICLE_SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def events_api() -> Iterator[FakeEventsApi]:
    """A local mParticle Events API on a real socket."""
    with FakeEventsApi() as fake:
        yield fake
