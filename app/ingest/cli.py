"""`recloop import-csv`: historical interactions into recloop's own store."""

import asyncio
from pathlib import Path

import click

from app.cli_settings import command_settings
from app.db import Database
from app.ingest.csv_import import check_file, import_file
from app.integrations.personalize.csv_format import CsvError
from app.migrations import upgrade_to_head


@click.command("import-csv")
@click.argument(
    "csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--default-event-type",
    default="view_detail",
    show_default=True,
    help="Event type of rows when the file has no EVENT_TYPE column.",
)
def import_csv(csv_file: Path, default_event_type: str) -> None:
    """Load a Personalize-format interactions CSV into recloop's store."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    size = csv_file.stat().st_size
    try:
        with click.progressbar(length=size, label="checking ") as bar:
            rows = check_file(csv_file, default_event_type, bar.update)
        with click.progressbar(length=size, label="importing") as bar:
            summary = asyncio.run(
                _import(settings.database_url, csv_file, default_event_type, bar.update)
            )
    except CsvError as exc:
        raise click.ClickException(f"{csv_file}: {exc}; nothing was imported") from None
    click.echo(
        f"{rows} rows: {summary.stored} interactions stored, "
        f"{summary.duplicates} already stored"
    )


async def _import(database_url: str, path: Path, default_event_type: str, progress):
    database = Database.from_url(database_url)
    try:
        return await import_file(database, path, default_event_type, progress)
    finally:
        await database.dispose()
