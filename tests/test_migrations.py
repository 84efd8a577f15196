"""Alembic's migrations and the ORM models describe the same schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db import Database
from app.migrations import current_revision, head_revision, upgrade_to_head
from app.models import Base

pytestmark = pytest.mark.anyio


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync), Base.metadata
            )
        )
    assert differences == []


async def test_database_is_at_head(database: Database) -> None:
    async with database.engine.connect() as connection:
        assert await current_revision(connection) == head_revision()


async def test_every_model_table_exists(database: Database) -> None:
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(
            lambda sync: set(inspect(sync).get_table_names())
        )
    assert set(Base.metadata.tables) <= tables


def test_upgrade_is_idempotent(database_url: str) -> None:
    # A second replica starting up runs the same upgrade: it must be a no-op.
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)
