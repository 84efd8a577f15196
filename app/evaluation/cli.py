"""`recloop evaluate`: the protocol on a Personalize CSV, printed as a table."""

import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

import click

from app.cli_settings import command_settings
from app.evaluation.dataset import DatasetInvalid, Interactions, read_personalize_csv
from app.evaluation.protocol import MIN_INTERACTIONS, Split, leave_last_out
from app.evaluation.runner import K, Result, evaluate
from app.evaluation.scorers import EASE, EmbeddedScorer, ItemKNN, Popularity, Scorer
from app.evaluation.tuning import tune
from app.recommenders.embedded.model import ParamsInvalid, overrides_of, params_with

COLUMNS = ("HR@10", "NDCG@10", "MRR@10", "coverage", "train_s", "peak_MB")
GROUND_TRUTH_COLUMNS = ("GT-P@10", "GT-NDCG@10")
CSV_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("path", type=CSV_FILE)
@click.option(
    "--ground-truth",
    type=CSV_FILE,
    help="USER_ID,ITEM_ID,RANK of what users really want (from recloop simulate).",
)
@click.option(
    "--tune/--no-tune",
    "tune_first",
    default=False,
    show_default=True,
    help="Choose the embedded model's parameters on a validation split first.",
)
@click.option(
    "--min-interactions",
    default=MIN_INTERACTIONS,
    show_default=True,
    type=click.IntRange(2),
    help="Users with fewer items are not tested.",
)
def evaluate_command(
    path: Path, ground_truth: Path | None, tune_first: bool, min_interactions: int
) -> None:
    """Compare the embedded recommender with baselines on a Personalize CSV."""
    settings = command_settings()
    try:
        data = read_personalize_csv(path, settings.weight_of)
    except DatasetInvalid as exc:
        raise click.ClickException(exc.message) from None
    split = leave_last_out(data, min_interactions)
    if not len(split.test_users):
        raise click.ClickException(
            f"{path}: no user has {min_interactions} or more items to test on"
        )
    click.echo(_describe(data, split))
    try:
        embedded = EmbeddedScorer(params_with(settings.embedded_params))
    except ParamsInvalid as exc:
        raise click.ClickException(str(exc)) from None
    if tune_first:
        started = time.perf_counter()
        embedded = EmbeddedScorer(tune([split], embedded.params))
        seconds = time.perf_counter() - started
        click.echo(f"tuned on the validation split in {seconds:.0f} s; to use it:")
        click.echo(
            f"  RECLOOP_EMBEDDED_PARAMS='{json.dumps(overrides_of(embedded.params))}'"
        )
    scorers: Sequence[Scorer] = [embedded, EASE(), ItemKNN(), Popularity()]
    truth = _ground_truth(ground_truth, data, split) if ground_truth else None
    results = evaluate(scorers, split, K, truth)
    click.echo(format_table(results, with_ground_truth=truth is not None))


def _describe(data: Interactions, split: Split) -> str:
    return (
        f"{len(data)} interactions, {data.user_count} users, {data.item_count} items; "
        f"{len(split.test_users)} users tested (last item held out), "
        f"{len(split.train)} training interactions"
    )


def format_table(results: list[Result], with_ground_truth: bool = False) -> str:
    columns = COLUMNS + (GROUND_TRUTH_COLUMNS if with_ground_truth else ())
    width = max(12, *(len(r.name) + 2 for r in results))
    header = f"{'model':<{width}}" + "".join(f"{c:>12}" for c in columns)
    header += f"{'NDCG/pop':>10}{'NDCG/EASE':>11}"
    lines = [header, "-" * len(header)]
    by_name = {r.name: r.values for r in results if r.skipped is None}
    for result in results:
        if result.skipped:
            lines.append(f"{result.name:<{width}}  skipped: {result.skipped}")
            continue
        cells = "".join(f"{_cell(result.values[c], c):>12}" for c in columns)
        ratios = "".join(
            f"{_ratio(result.values, by_name.get(base)):>{width}}"
            for base, width in (("popularity", 10), ("ease", 11))
        )
        lines.append(f"{result.name:<{width}}{cells}{ratios}")
    return "\n".join(lines)


def _cell(value: float, column: str) -> str:
    if column == "train_s":
        return f"{value:.2f}"
    if column == "peak_MB":
        return f"{value:.0f}"
    return f"{value:.4f}"


def _ratio(values: dict[str, float], base: dict[str, float] | None) -> str:
    if base is None or base["NDCG@10"] == 0:
        return "-"
    return f"{values['NDCG@10'] / base['NDCG@10']:.2f}x"


def _ground_truth(path: Path, data: Interactions, split: Split) -> list[set[int]]:
    """Each tested user's wanted items, as rows of the dataset's items."""
    items = {item_id: row for row, item_id in enumerate(data.item_ids)}
    wanted: dict[str, set[int]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("ITEM_ID") in items:
                wanted.setdefault(row["USER_ID"], set()).add(items[row["ITEM_ID"]])
    return [wanted.get(data.user_ids[u], set()) for u in split.test_users]
