"""Liveness and readiness."""

import pytest
from sqlalchemy import text

from app.migrations import head_revision
from tests.health.conftest import unreachable_database

pytestmark = pytest.mark.anyio


async def test_healthz_answers_without_credentials(start_app, database) -> None:
    app = await start_app()
    app.client.auth = None
    response = await app.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_reports_the_schema_at_head(start_app, database) -> None:
    app = await start_app()
    response = await app.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "schema": head_revision(),
    }


async def test_readyz_fails_when_the_schema_is_behind(start_app, database) -> None:
    app = await start_app()
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = await app.client.get("/readyz")
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"),
                {"head": head_revision()},
            )
    assert response.status_code == 503
    assert "schema at old" in response.json()["database"]


async def test_readyz_fails_when_the_database_is_unreachable(start_app, database):
    app = await start_app()
    async with unreachable_database(app):
        response = await app.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")
