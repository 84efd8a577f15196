"""Personalize's bulk CSV format for interactions, written and read in a stream.

Header row of schema field names, UTF-8, one interaction a line, timestamps
in Unix epoch seconds: what a dataset import job reads, and what
`recloop import-csv` loads into recloop's own store.
"""

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from app.ingest.schemas import INT64_MAX, INT64_MIN
from app.integrations.personalize.events import (
    MAX_ID_CHARS,
    PendingInteraction,
    session_id_for,
)
from app.integrations.personalize.provisioning.plan import schema_columns

REQUIRED_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
MAX_EVENT_TYPE_CHARS = 64  # recloop's column; Personalize allows 256
# Seconds past this are milliseconds in disguise (year 5138 in seconds).
MAX_EPOCH_SECONDS = 10**11


class CsvError(ValueError):
    """A line of an interactions CSV that cannot be used, and why."""


@dataclass(frozen=True, slots=True)
class CsvInteraction:
    line: int
    mpid: int
    item_id: str
    event_type: str
    session_id: str | None
    timestamp_seconds: int

    @property
    def key(self) -> str:
        """Stable across imports of the same row, so a re-import adds nothing."""
        fields = (
            self.mpid,
            self.item_id,
            self.event_type,
            self.session_id or "",
            self.timestamp_seconds,
        )
        canonical = "\x1f".join(str(value) for value in fields)
        return "csv:" + hashlib.sha256(canonical.encode()).hexdigest()


class CsvWriter:
    """Writes interactions as the columns of recloop's Interactions schema."""

    def __init__(self, out: IO[str], event_value: bool, weight_of) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._event_value = event_value
        self._weight_of = weight_of
        self._writer.writerow(schema_columns(event_value))

    def write(self, interaction: PendingInteraction) -> None:
        row: list[object] = [
            interaction.mpid,
            interaction.item_id,
            interaction.event_type,
        ]
        if self._event_value:
            row.append(self._weight_of(interaction.event_type))
        row += [session_id_for(interaction), interaction.occurred_at_ms // 1000]
        self._writer.writerow(row)


def read_interactions(
    lines: Iterable[str], default_event_type: str
) -> Iterator[CsvInteraction]:
    """Parse a Personalize interactions CSV; raises CsvError naming the line."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise CsvError("line 1: the file is empty; expected a header row")
    columns = _columns(header)
    for row in reader:
        if not row:
            continue
        yield _interaction(reader.line_num, row, columns, default_event_type)


def _columns(header: list[str]) -> dict[str, int]:
    columns = {name.strip().upper(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CsvError(f"line 1: header lacks {', '.join(missing)} (it has {header})")
    return columns


def _interaction(
    line: int, row: list[str], columns: dict[str, int], default_event_type: str
) -> CsvInteraction:
    if len(row) != len(columns):
        raise CsvError(f"line {line}: {len(row)} fields, the header has {len(columns)}")

    def field(name: str) -> str | None:
        index = columns.get(name)
        return row[index].strip() if index is not None else None

    return CsvInteraction(
        line=line,
        mpid=_mpid(line, field("USER_ID") or ""),
        item_id=_text(line, "ITEM_ID", field("ITEM_ID"), MAX_ID_CHARS),
        event_type=_text(
            line,
            "EVENT_TYPE",
            field("EVENT_TYPE") or default_event_type,
            MAX_EVENT_TYPE_CHARS,
        ),
        session_id=field("SESSION_ID") or None,
        timestamp_seconds=_timestamp(line, field("TIMESTAMP") or ""),
    )


def _mpid(line: int, value: str) -> int:
    digits = value[1:] if value[:1] in "+-" else value
    if not digits.isascii() or not digits.isdigit():
        raise CsvError(
            f'line {line}: USER_ID "{value[:40]}" is not an MPID; recloop keys '
            "users by MPID, a signed 64-bit integer"
        )
    mpid = int(value)
    if not INT64_MIN <= mpid <= INT64_MAX:
        raise CsvError(
            f"line {line}: USER_ID {value} is outside the signed 64-bit range"
        )
    return mpid


def _text(line: int, name: str, value: str | None, max_chars: int) -> str:
    if not value:
        raise CsvError(f"line {line}: {name} is empty")
    if len(value) > max_chars:
        raise CsvError(
            f"line {line}: {name} is {len(value)} characters; at most {max_chars}"
        )
    return value


def _timestamp(line: int, value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise CsvError(
            f'line {line}: TIMESTAMP "{value[:40]}" is not an integer'
        ) from None
    if not 0 < seconds < MAX_EPOCH_SECONDS:
        raise CsvError(
            f"line {line}: TIMESTAMP {seconds} is not Unix epoch seconds"
            + (" (milliseconds?)" if seconds >= MAX_EPOCH_SECONDS else "")
        )
    return seconds
