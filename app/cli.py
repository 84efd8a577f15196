"""The `recloop` command."""

import asyncio
import signal

import click

from app import serving
from app.cli_settings import command_settings
from app.config import Settings
from app.evaluation.cli import evaluate_command
from app.ingest.cli import import_csv
from app.integrations.personalize.cli import personalize
from app.migrations import upgrade_to_head
from app.simulation.cli import simulate
from app.worker.cli import jobs


@click.group()
def main() -> None:
    """recloop: mParticle events in, fresh product recommendations out."""


main.add_command(jobs)


@main.command()
def migrate() -> None:
    """Upgrade the database to the latest schema."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    click.echo("database is at the latest schema")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Run the job worker too (off for API-only replicas). "
    "[default: RECLOOP_WORKER_ENABLED, which is true]",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API processes sharing the port (one per core); the job worker "
    "still runs once.",
)
def serve(host: str, port: int, worker: bool | None, workers: int) -> None:
    """Apply migrations, then serve the API (and run the worker)."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    run_worker = settings.worker_enabled if worker is None else worker
    serving.serve(host, port, workers=workers, run_worker=run_worker)


@main.command("worker")
def run_worker() -> None:
    """Run a job worker alone, for deployments with several."""
    settings = command_settings()
    upgrade_to_head(settings.database_url)
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from app.runtime import Runtime

    runtime = Runtime(settings, run_worker=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    await stop.wait()
    await runtime.stop()


main.add_command(personalize)
main.add_command(import_csv)
main.add_command(evaluate_command, "evaluate")
main.add_command(simulate)
main.add_command(jobs)


if __name__ == "__main__":
    main()
