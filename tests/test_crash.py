"""The crash-and-outage run of `bench/crash.py`, small enough for the suite."""

import asyncio

import pytest

from app.db import Database
from bench.crash import Plan, passed, run

pytestmark = pytest.mark.anyio


async def test_kill_9_and_a_downstream_outage_lose_and_duplicate_nothing(
    database: Database, database_url: str, tmp_path
) -> None:
    plan = Plan(seconds=8, posts_per_second=15, kills=2, outage_seconds=3, users=20)

    result = await asyncio.to_thread(run, plan, database_url, tmp_path)

    assert passed(result), result
    assert result["kills"] == 2
    assert result["resends_after_no_answer"] > 0
    assert result["acknowledged_batches"] == result["posts"]
    assert result["writeback_batches_accepted"] > 0
