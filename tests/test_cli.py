"""The `recloop` command line."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from app.cli import main
from app.migrations import head_revision


def test_migrate_creates_every_table_in_a_fresh_database(tmp_path: Path, monkeypatch):
    path = tmp_path / "fresh.db"
    monkeypatch.setenv("RECLOOP_DATABASE_URL", f"sqlite:///{path}")

    result = CliRunner().invoke(main, ["migrate"])

    assert result.exit_code == 0, result.output
    assert "latest schema" in result.output
    engine = create_engine(f"sqlite:///{path}")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "batches",
        "interactions",
        "impressions",
        "jobs",
        "recommendations",
    } <= tables
    assert head_revision() is not None


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_unsafe_production_settings_stop_every_command_naming_the_setting(
    command, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("RECLOOP_ENV", "production")
    monkeypatch.setenv("RECLOOP_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("RECLOOP_INGEST_KEY", raising=False)

    result = CliRunner().invoke(main, [command])

    assert result.exit_code != 0
    assert "RECLOOP_INGEST_KEY must be set in production" in result.output
    assert not (tmp_path / "x.db").exists()


def test_invalid_settings_are_reported_not_raised(monkeypatch) -> None:
    monkeypatch.setenv("RECLOOP_RECS_COUNT", "0")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code != 0
    assert "RECLOOP_RECS_COUNT: Input should be greater than or equal" in result.output


def test_help_lists_the_contracts_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    for command in ("serve", "worker", "migrate", "jobs"):
        assert command in result.output
