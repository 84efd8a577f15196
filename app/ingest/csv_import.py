"""Loading a Personalize-format CSV of historical interactions into the store.

The file is read twice, line by line: once to check every row (so a bad
line stops the import before anything is stored), once to insert in
chunks. Each row's key is derived from its content, so importing the same
file again, or resuming after a crash, stores nothing twice.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.db import Database, upsert
from app.integrations.personalize.csv_format import (
    CsvError,
    CsvInteraction,
    read_interactions,
)
from app.models import Interaction
from app.models.base import utcnow

INSERT_CHUNK_ROWS = 500

Progress = Callable[[int], None]


@dataclass(frozen=True)
class CsvImportSummary:
    rows: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.rows - self.stored


def check_file(path: Path, default_event_type: str, progress: Progress) -> int:
    """Every row of the file checked; returns how many there are."""
    return sum(1 for _ in _rows(path, default_event_type, progress))


async def import_file(
    database: Database, path: Path, default_event_type: str, progress: Progress
) -> CsvImportSummary:
    rows = stored = 0
    chunk: list[CsvInteraction] = []
    for row in _rows(path, default_event_type, progress):
        chunk.append(row)
        if len(chunk) == INSERT_CHUNK_ROWS:
            stored += await _insert(database, chunk)
            rows += len(chunk)
            chunk = []
    if chunk:
        stored += await _insert(database, chunk)
        rows += len(chunk)
    return CsvImportSummary(rows=rows, stored=stored)


def _rows(
    path: Path, default_event_type: str, progress: Progress
) -> Iterator[CsvInteraction]:
    yield from read_interactions(_lines(path, progress), default_event_type)


def _lines(path: Path, progress: Progress) -> Iterator[str]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            progress(len(raw))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CsvError(f"line {number}: not UTF-8") from None
            yield text.removeprefix("\ufeff") if number == 1 else text


async def _insert(database: Database, chunk: list[CsvInteraction]) -> int:
    now = utcnow()
    values: list[dict[str, Any]] = [
        {
            "key": row.key,
            "event_key": row.key,
            "batch_id": None,
            "mpid": row.mpid,
            "item_id": row.item_id,
            "event_type": row.event_type,
            "session_id": row.session_id,
            "occurred_at_ms": row.timestamp_seconds * 1000,
            "received_at": now,
            # History reaches Personalize by a bulk import of the same file,
            # not one PutEvents call per row.
            "forwarded_at": now,
        }
        for row in {row.key: row for row in chunk}.values()
    ]
    async with database.write() as session:
        statement = (
            upsert(session, Interaction)
            .values(values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Interaction.key)
        )
        return len((await session.execute(statement)).all())
