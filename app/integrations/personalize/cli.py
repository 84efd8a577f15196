"""`recloop personalize ...`: set up Amazon Personalize, feed it history, and
have it delete erased users."""

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from app.cli_settings import command_settings
from app.config import Settings
from app.db import Database
from app.exceptions import RecloopError
from app.integrations.personalize import bulk_import, deletion, repository
from app.integrations.personalize.clients import CONTROL, S3, build_client
from app.integrations.personalize.csv_format import CsvWriter
from app.integrations.personalize.provisioning.plan import Plan
from app.integrations.personalize.provisioning.provision import DataCounts, Provisioner
from app.integrations.personalize.provisioning.resources import (
    ControlPlane,
    Poller,
    ResourceFailed,
)
from app.migrations import upgrade_to_head


@click.group("personalize")
def personalize() -> None:
    """Set up Amazon Personalize, bootstrap it with history, delete erased users."""


class ClickProgress:
    """Prints each step, and each status change while waiting."""

    def __init__(self) -> None:
        self._last: tuple[str, str, str] | None = None
        self._tty = sys.stdout.isatty()

    def step(self, label: str, name: str, action: str) -> None:
        self._end_line()
        click.echo(f"{label:<19} {name:<45} {action}")

    def status(self, label: str, name: str, status: str, seconds: float) -> None:
        elapsed = time.strftime("%H:%M:%S", time.gmtime(seconds))
        if self._last != (label, name, status):
            self._end_line()
            self._last = (label, name, status)
            click.echo(f"  {status} ({elapsed})", nl=not self._tty)
        elif self._tty:
            click.echo(f"\r  {status} ({elapsed})", nl=False)

    def _end_line(self) -> None:
        if self._tty and self._last is not None:
            click.echo("")
        self._last = None


@contextmanager
def personalize_errors() -> Iterator[None]:
    try:
        yield
    except (RecloopError, ValueError) as exc:
        message = exc.message if isinstance(exc, RecloopError) else str(exc)
        raise click.ClickException(message) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: run the same command again to resume", err=True)
        sys.exit(130)


def _control(settings: Settings, poll_seconds: float) -> ControlPlane:
    poller = Poller(initial_seconds=poll_seconds, max_seconds=max(poll_seconds, 60.0))
    return ControlPlane(build_client(settings, CONTROL), ClickProgress(), poller)


@personalize.command()
@click.option(
    "--dry-run", is_flag=True, help="Show what would be created; change nothing."
)
@click.option(
    "--auto-training/--no-auto-training",
    default=True,
    show_default=True,
    help="Let Personalize retrain (and bill) on a schedule; the campaign follows.",
)
@click.option("--auto-training-days", default=7, show_default=True, type=int)
@click.option("--min-tps", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--skip-data-check",
    is_flag=True,
    help="Train even if recloop forwarded too little (the data came another way).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the settings to this file (e.g. .env), keeping its other lines.",
)
@click.option(
    "--poll-seconds", default=5.0, show_default=True, type=click.FloatRange(0)
)
def provision(
    dry_run: bool,
    auto_training: bool,
    auto_training_days: int,
    min_tps: int,
    skip_data_check: bool,
    env_file: Path | None,
    poll_seconds: float,
) -> None:
    """Find or create the whole Personalize chain, waiting until it is ACTIVE."""
    settings = command_settings()
    with personalize_errors():
        plan = Plan.from_settings(
            settings,
            auto_training=auto_training,
            auto_training_days=auto_training_days,
            min_provisioned_tps=min_tps,
        )
        data = None
        if not skip_data_check:
            upgrade_to_head(settings.database_url)
            data = asyncio.run(_data_counts(settings))
        control = _control(settings, poll_seconds)
        outcome = Provisioner(control, plan, dry_run=dry_run).run(data)
    if outcome.waiting_for_data:
        click.echo(
            f"\nno solution version yet: {outcome.waiting_for_data}. Events flow "
            "once the tracker exists; run `recloop personalize provision` again "
            "when there are enough (or bootstrap history with "
            "`recloop personalize import`)."
        )
    if dry_run:
        click.echo("dry run: nothing was created")
        return
    values = outcome.settings(plan, control.region)
    click.echo("\n" + "\n".join(f"{key}={value}" for key, value in values.items()))
    if env_file is not None:
        write_env_file(env_file, values)
        click.echo(f"\nwritten to {env_file}")


async def _data_counts(settings: Settings) -> DataCounts:
    upgrade_to_head_in_thread = asyncio.to_thread(
        upgrade_to_head, settings.database_url
    )
    await upgrade_to_head_in_thread
    database = Database.from_url(settings.database_url)
    try:
        async with database.read() as session:
            return await repository.forwarded_counts(session)
    finally:
        await database.dispose()


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Set `values` in an env file, keeping its other lines; written atomically."""
    lines = path.read_text().splitlines() if path.exists() else []
    remaining = dict(values)
    kept = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        kept.append(f"{key}={remaining.pop(key)}" if key in remaining else line)
    kept += [f"{key}={value}" for key, value in remaining.items()]
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("\n".join(kept) + "\n")
    os.replace(temporary, path)


@personalize.command("export-csv")
@click.option(
    "--output",
    "-o",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Where to write the CSV; - is standard output.",
)
def export_csv(output: Path) -> None:
    """Write every stored interaction in Personalize's bulk CSV format."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    count = asyncio.run(_export(settings, output))
    click.echo(f"exported {count} interactions", err=True)


async def _export(settings: Settings, output: Path) -> int:
    database = Database.from_url(settings.database_url)
    try:
        total = await repository.count_interactions(database)
        with _open_output(output) as out:
            writer = CsvWriter(
                out, settings.personalize_event_value, settings.weight_of
            )
            count = 0
            with click.progressbar(
                length=total, label="exporting", file=sys.stderr
            ) as bar:
                async for interaction in repository.stream_interactions(database):
                    writer.write(interaction)
                    count += 1
                    if count % 1000 == 0:
                        bar.update(1000)
                bar.update(count % 1000)
        return count
    finally:
        await database.dispose()


@contextmanager
def _open_output(output: Path) -> Iterator:
    if str(output) == "-":
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as file:
        yield file


@personalize.command("import")
@click.option("--s3-uri", required=True, help="s3://BUCKET/KEY to upload the CSV to.")
@click.option(
    "--role-arn", required=True, help="IAM role Personalize assumes to read the bucket."
)
@click.option(
    "--file",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Personalize interactions CSV; default: export recloop's store first.",
)
@click.option(
    "--mode",
    type=click.Choice(bulk_import.IMPORT_MODES),
    default="FULL",
    show_default=True,
)
@click.option(
    "--poll-seconds", default=10.0, show_default=True, type=click.FloatRange(0)
)
def import_history(
    s3_uri: str, role_arn: str, csv_file: Path | None, mode: str, poll_seconds: float
) -> None:
    """Upload interactions to S3 and import them into the Interactions dataset."""
    settings = command_settings()
    with personalize_errors():
        bulk_import.parse_s3_uri(s3_uri)
        plan = Plan.from_settings(settings)
        control = _control(settings, poll_seconds)
        dataset_arn = bulk_import.interactions_dataset_or_raise(
            control, plan, settings.personalize_dataset_group_arn
        )
        with _csv_to_import(settings, csv_file) as path:
            _upload(settings, path, s3_uri)
            job_name = f"{plan.prefix}-import-{bulk_import.file_digest(path)[:16]}"
            bulk_import.run_import(
                control,
                dataset_arn,
                job_name=job_name,
                s3_uri=s3_uri,
                role_arn=role_arn,
                mode=mode,
            )
    click.echo(f"imported {s3_uri} into {plan.dataset_name} ({mode})")


@contextmanager
def _csv_to_import(settings: Settings, csv_file: Path | None) -> Iterator[Path]:
    if csv_file is not None:
        yield csv_file
        return
    upgrade_to_head(settings.database_url)
    with tempfile.TemporaryDirectory(prefix="recloop-export-") as folder:
        path = Path(folder) / "interactions.csv"
        asyncio.run(_export(settings, path))
        yield path


def _upload(settings: Settings, path: Path, s3_uri: str) -> None:
    size = path.stat().st_size
    with click.progressbar(length=size, label="uploading", file=sys.stderr) as bar:
        bulk_import.upload(build_client(settings, S3), path, s3_uri, bar.update)


@personalize.command("delete-users")
@click.option(
    "--s3-uri",
    help="S3 folder (s3://BUCKET/PREFIX/) for the CSV of erased users' ids; each "
    "job writes its own file there and deletes it when done.",
)
@click.option("--role-arn", help="IAM role Personalize assumes to read the bucket.")
@click.option(
    "--dry-run", is_flag=True, help="Say how many users would be deleted; call nothing."
)
@click.option(
    "--poll-seconds", default=30.0, show_default=True, type=click.FloatRange(0)
)
def delete_users(
    s3_uri: str | None, role_arn: str | None, dry_run: bool, poll_seconds: float
) -> None:
    """Have Personalize delete the data of users erased by DELETE /users/{mpid}."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    if dry_run:
        count = asyncio.run(_in_database(settings, deletion.pending_users))
        click.echo(f"dry run: {count} erased users would be deleted from Personalize")
        return
    if s3_uri is None or role_arn is None:
        raise click.UsageError(
            "--s3-uri and --role-arn are required (but for --dry-run)"
        )
    with personalize_errors():
        folder = deletion.folder_uri_or_raise(s3_uri)
        plan = Plan.from_settings(settings)
        job = asyncio.run(_in_database(settings, deletion.next_job, plan.prefix))
        if job is None:
            click.echo("no erased users are waiting to be deleted from Personalize")
            return
        _delete_in_personalize(settings, plan, job, folder, role_arn, poll_seconds)
    click.echo(
        f"Personalize deleted the data of {len(job.mpids)} erased users ({job.name})"
    )


def _delete_in_personalize(
    settings: Settings,
    plan: Plan,
    job: deletion.DeletionJob,
    folder: str,
    role_arn: str,
    poll_seconds: float,
) -> None:
    control = _control(settings, poll_seconds)
    group = bulk_import.dataset_group_or_raise(
        control, plan, settings.personalize_dataset_group_arn
    )

    def data_location() -> str:
        uri = deletion.file_uri(folder, job.name)
        with tempfile.TemporaryDirectory(prefix="recloop-delete-") as directory:
            path = Path(directory) / "users.csv"
            deletion.write_user_ids(path, job.mpids)
            _upload(settings, path, uri)
        return uri

    try:
        done = deletion.run_job(
            control,
            job,
            dataset_group_arn=group,
            data_location=data_location,
            role_arn=role_arn,
        )
    except ResourceFailed as exc:
        asyncio.run(_in_database(settings, deletion.finish, job.name, completed=False))
        _remove_file(settings, exc.description)
        raise ResourceFailed(
            f"{exc.message}; its {len(job.mpids)} users stay pending for the next run",
            exc.description,
        ) from None
    asyncio.run(_in_database(settings, deletion.finish, job.name, completed=True))
    _remove_file(settings, done)


def _remove_file(settings: Settings, description: dict[str, Any]) -> None:
    problem = deletion.remove_file(build_client(settings, S3), description)
    if problem is not None:
        click.echo(
            f"warning: could not delete {problem}; delete it yourself, it lists "
            "erased users",
            err=True,
        )


async def _in_database(
    settings: Settings, work: Callable[..., Awaitable[Any]], *args: Any, **kw: Any
) -> Any:
    database = Database.from_url(settings.database_url)
    try:
        return await work(database, *args, **kw)
    finally:
        await database.dispose()
