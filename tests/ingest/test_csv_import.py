"""`recloop import-csv`: a Personalize-format CSV into recloop's own store."""

import asyncio
import tracemalloc

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.ingest.csv_import import check_file
from app.models import Interaction

pytestmark = pytest.mark.anyio

HISTORY = (
    "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n"
    "7346244611012968789,SKU-1,purchase,4,1764700000\n"
    "-12,SKU-2,view_detail,1,1764700100\n"
    "-12,SKU-2,view_detail,1,1764700100\n"
    "\n"
    "-12,SKU-3,add_to_cart,2,1764700200\n"
)


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("RECLOOP_DATABASE_URL", database_url)


async def import_csv(path, *options: str):
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["import-csv", str(path), *options]
    )


async def stored(database) -> list[Interaction]:
    async with database.read() as session:
        query = select(Interaction).order_by(Interaction.occurred_at_ms)
        return list((await session.scalars(query)).all())


async def test_rows_become_interactions_once(cli_env, database, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HISTORY)

    first = await import_csv(path)
    again = await import_csv(path)

    assert first.exit_code == 0, first.output
    assert "4 rows: 3 interactions stored, 1 already stored" in first.output
    assert "4 rows: 0 interactions stored, 4 already stored" in again.output
    rows = await stored(database)
    assert [(r.mpid, r.item_id, r.event_type, r.occurred_at_ms) for r in rows] == [
        (7346244611012968789, "SKU-1", "purchase", 1_764_700_000_000),
        (-12, "SKU-2", "view_detail", 1_764_700_100_000),
        (-12, "SKU-3", "add_to_cart", 1_764_700_200_000),
    ]
    # History reaches Personalize by bulk import, never by PutEvents.
    assert all(r.forwarded_at is not None for r in rows)


async def test_a_file_without_event_types_takes_the_default(
    cli_env, database, tmp_path
):
    path = tmp_path / "history.csv"
    path.write_text("\ufeffuser_id,item_id,timestamp,SESSION_ID\n1,A,1764700000,s-9\n")

    result = await import_csv(path, "--default-event-type", "purchase")

    assert result.exit_code == 0, result.output
    [row] = await stored(database)
    assert (row.event_type, row.session_id) == ("purchase", "s-9")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("USER_ID,ITEM_ID\n1,A\n", "line 1: header lacks TIMESTAMP"),
        ("", "line 1: the file is empty"),
        (
            "USER_ID,ITEM_ID,TIMESTAMP\n1,A,1764700000\nc-1042,B,1764700000\n",
            'line 3: USER_ID "c-1042" is not an MPID',
        ),
        (
            "USER_ID,ITEM_ID,TIMESTAMP\n1,A,1764700000000\n",
            "line 2: TIMESTAMP 1764700000000 is not Unix epoch seconds (milliseconds?)",
        ),
        ("USER_ID,ITEM_ID,TIMESTAMP\n1,,1764700000\n", "line 2: ITEM_ID is empty"),
        ("USER_ID,ITEM_ID,TIMESTAMP\n1,A\n", "line 2: 2 fields, the header has 3"),
        (
            "USER_ID,ITEM_ID,TIMESTAMP\n99999999999999999999,A,1\n",
            "outside the signed 64-bit range",
        ),
    ],
)
async def test_a_bad_line_is_named_and_nothing_is_stored(
    cli_env, database, tmp_path, body, message
):
    path = tmp_path / "history.csv"
    path.write_text(body)

    result = await import_csv(path)

    assert result.exit_code == 1
    assert message in result.output
    assert "nothing was imported" in result.output
    assert await stored(database) == []


def test_large_files_are_read_in_bounded_memory(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    for path, rows in ((small, 2_000), (large, 100_000)):
        with path.open("w") as file:
            file.write("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
            for n in range(rows):
                file.write(f"{n % 5000},SKU-{n % 977},view_detail,{1764700000 + n}\n")

    peaks = []
    for path in (small, large):
        tracemalloc.start()
        rows = check_file(path, "view_detail", lambda _bytes: None)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert rows in (2_000, 100_000)

    # Fifty times the rows, about the same memory: nothing accumulates.
    assert peaks[1] < 2 * peaks[0] + 64 * 1024
