"""Recommendation impact: how often generated lists led to views, carts, purchases."""

from collections import defaultdict
from datetime import timedelta

from app.db import Database
from app.impact import repository
from app.impact.schemas import RecsStats, SourceDay
from app.models.base import utcnow

ALL_DAYS = "all"


async def recs_stats(database: Database, days: int, window_seconds: float) -> RecsStats:
    since = utcnow() - timedelta(days=days)
    async with database.read() as session:
        lists = await repository.lists_per_day(session, since)
        outcomes = await repository.outcomes_per_day(session, since)
    by_day = [
        _entry(day, source, count, outcomes, [(day, source)])
        for (day, source), count in sorted(lists.items())
    ]
    keys_by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in lists:
        keys_by_source[key[1]].append(key)
    by_source = [
        _entry(ALL_DAYS, source, sum(lists[k] for k in keys), outcomes, keys)
        for source, keys in sorted(keys_by_source.items())
    ]
    return RecsStats(
        attribution_window_seconds=window_seconds,
        days=days,
        by_source=by_source,
        by_day=by_day,
    )


def _entry(
    day: str,
    source: str,
    lists: int,
    outcomes: dict[tuple[str, str, str], int],
    keys: list[tuple[str, str]],
) -> SourceDay:
    counts = {
        name: sum(outcomes.get((d, s, name), 0) for d, s in keys)
        for name in repository.OUTCOMES
    }
    return SourceDay(
        day=day,
        source=source,
        lists=lists,
        **counts,
        click_through_rate=_rate(counts["clicked"], lists),
        add_to_cart_rate=_rate(counts["carted"], lists),
        purchase_rate=_rate(counts["purchased"], lists),
    )


def _rate(count: int, lists: int) -> float:
    return round(count / lists, 6) if lists else 0.0
