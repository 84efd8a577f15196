"""`recloop simulate`: realistic shoppers as mParticle batches, files or live."""

import asyncio
from collections import Counter
from pathlib import Path

import click
import httpx

from app.simulation.batches import Shape, session_batches
from app.simulation.files import (
    write_batches,
    write_ground_truth,
    write_interactions_csv,
)
from app.simulation.latent import SimulationConfig
from app.simulation.posting import PostingFailed, post_batches
from app.simulation.shopping import Simulation
from app.simulation.shopping import simulate as run_simulation

FILE = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.command()
@click.option("--users", default=2_000, show_default=True, type=click.IntRange(1))
@click.option("--items", default=1_000, show_default=True, type=click.IntRange(1))
@click.option("--categories", default=20, show_default=True, type=click.IntRange(1))
@click.option("--days", default=30.0, show_default=True, type=click.FloatRange(0.01))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--shape",
    type=click.Choice(["outbound", "inbound"]),
    default="outbound",
    show_default=True,
    help="outbound: webhook output (POST /webhooks/mparticle); "
    "inbound: Events API (POST /v2/bulkevents).",
)
@click.option("--out", type=FILE, help="Write the batches here, one per line.")
@click.option("--csv", "csv_path", type=FILE, help="Write a Personalize CSV here.")
@click.option(
    "--ground-truth", type=FILE, help="Write what each shopper wants next here."
)
@click.option("--post", "post_url", help="Post the batches to recloop at this URL.")
@click.option(
    "--rate",
    default=50.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Batches per second when posting.",
)
@click.option(
    "--live/--no-live",
    default=False,
    show_default=True,
    help="Stamp each posted batch with the time it is sent (a live demo).",
)
@click.option("--ingest-key", envvar="RECLOOP_INGEST_KEY", help="HTTP Basic user.")
@click.option(
    "--ingest-secret", envvar="RECLOOP_INGEST_SECRET", help="HTTP Basic password."
)
def simulate(
    users: int,
    items: int,
    categories: int,
    days: float,
    seed: int,
    shape: Shape,
    out: Path | None,
    csv_path: Path | None,
    ground_truth: Path | None,
    post_url: str | None,
    rate: float,
    live: bool,
    ingest_key: str | None,
    ingest_secret: str | None,
) -> None:
    """Generate shoppers from a latent model; write or post their mParticle batches."""
    if not any((out, csv_path, ground_truth, post_url)):
        raise click.UsageError(
            "say where the simulation goes: --out, --csv, --ground-truth or --post"
        )
    try:
        config = SimulationConfig(
            users=users, items=items, categories=categories, days=days, seed=seed
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    simulation = run_simulation(config)
    click.echo(f"simulated {len(simulation.events)} events of {users} shoppers")
    if out:
        click.echo(f"{write_batches(simulation, out, shape)} batches -> {out}")
    if csv_path:
        click.echo(f"{write_interactions_csv(simulation, csv_path)} rows -> {csv_path}")
    if ground_truth:
        rows = write_ground_truth(simulation, ground_truth)
        click.echo(f"{rows} ground-truth rows -> {ground_truth}")
    if post_url:
        auth = (ingest_key, ingest_secret) if ingest_key and ingest_secret else None
        _post(simulation, post_url, shape, rate, auth, live)


def _post(
    simulation: Simulation,
    url: str,
    shape: Shape,
    rate: float,
    auth: tuple[str, str] | None,
    live: bool,
) -> None:
    batches = session_batches(simulation, shape)
    try:
        summary = asyncio.run(post_batches(batches, url, shape, rate, auth, live=live))
    except PostingFailed as exc:
        raise click.ClickException(str(exc)) from None
    except httpx.TransportError as exc:
        raise click.ClickException(
            f"cannot reach recloop at {url}: {type(exc).__name__}"
        ) from None
    click.echo(
        f"posted {summary.requests} requests: {summary.batches} batches, "
        f"{summary.interactions} interactions, {summary.duplicates} duplicates"
    )
    busiest = Counter(event.mpid for event in simulation.events).most_common(1)
    if busiest:
        click.echo(
            "the busiest shopper's recommendations: "
            f"curl -s {url.rstrip('/')}/users/{busiest[0][0]}/recs"
        )
