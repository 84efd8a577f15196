"""Interactions read from Amazon Personalize's bulk CSV format, integer-coded.

The format is a header row naming the columns (``USER_ID``, ``ITEM_ID``,
``TIMESTAMP`` in epoch seconds are required; ``EVENT_TYPE`` and
``EVENT_VALUE`` are optional), then one interaction per row.
"""

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.exceptions import BadRequest

REQUIRED_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP")


class DatasetInvalid(BadRequest):
    """An interactions file that cannot be read as Personalize CSV."""


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays of interactions; users and items as row numbers."""

    users: np.ndarray  # int32 row in `user_ids`
    items: np.ndarray  # int32 row in `item_ids`
    weights: np.ndarray  # float32, from the event type
    times_ms: np.ndarray  # int64
    user_ids: list[str]
    item_ids: list[str]

    @property
    def user_count(self) -> int:
        return len(self.user_ids)

    @property
    def item_count(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> "Interactions":
        """The same users and items, keeping only the rows where `mask` is true."""
        return Interactions(
            self.users[mask],
            self.items[mask],
            self.weights[mask],
            self.times_ms[mask],
            self.user_ids,
            self.item_ids,
        )


def read_personalize_csv(path: Path, weight_of: Callable[[str], float]) -> Interactions:
    """Read a Personalize interactions CSV; `weight_of` maps an event type to a weight.

    Without an EVENT_TYPE column every row counts as a purchase-like signal of
    weight 1 (the convention for ratings data: every rating is a purchase).
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DatasetInvalid(f"{path}: the file is empty; expected a header row")
        columns = _column_positions(path, header)
        return _from_rows(path, reader, columns, weight_of)


def _column_positions(path: Path, header: list[str]) -> dict[str, int]:
    names = [name.strip().upper() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise DatasetInvalid(
            f"{path}: header lacks {', '.join(missing)}; "
            f"expected USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP"
        )
    return {name: position for position, name in enumerate(names)}


def _from_rows(
    path: Path,
    rows: Iterable[list[str]],
    columns: Mapping[str, int],
    weight_of: Callable[[str], float],
) -> Interactions:
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    users: list[int] = []
    items: list[int] = []
    weights: list[float] = []
    times: list[int] = []
    user_col, item_col = columns["USER_ID"], columns["ITEM_ID"]
    time_col, type_col = columns["TIMESTAMP"], columns.get("EVENT_TYPE")
    width = max(columns.values()) + 1
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) < width:
            raise DatasetInvalid(f"{path}:{line}: {len(row)} fields, expected {width}")
        users.append(user_index.setdefault(row[user_col], len(user_index)))
        items.append(item_index.setdefault(row[item_col], len(item_index)))
        weights.append(1.0 if type_col is None else weight_of(row[type_col]))
        times.append(_epoch_ms(path, line, row[time_col]))
    return Interactions(
        users=np.asarray(users, dtype=np.int32),
        items=np.asarray(items, dtype=np.int32),
        weights=np.asarray(weights, dtype=np.float32),
        times_ms=np.asarray(times, dtype=np.int64),
        user_ids=list(user_index),
        item_ids=list(item_index),
    )


def _epoch_ms(path: Path, line: int, value: str) -> int:
    try:
        return int(float(value) * 1000)
    except ValueError:
        raise DatasetInvalid(
            f"{path}:{line}: TIMESTAMP {value[:40]!r} is not epoch seconds"
        ) from None


def write_personalize_csv(path: Path, rows: Iterable[tuple[str, str, str, int]]) -> int:
    """Write (user_id, item_id, event_type, epoch_seconds) rows; returns the count."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
