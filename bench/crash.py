"""Crash-and-outage run: kill -9 the server mid-stream, fail the downstream,
and prove that nothing acknowledged is lost and nothing is forwarded twice.

    python -m bench.crash                     # SQLite, in a temporary folder
    python -m bench.crash --database postgresql://postgres@127.0.0.1:5432/postgres

A sender streams batches to `recloop serve` at a steady rate and, as
mParticle does, re-sends every post that got no answer or a 429/5xx. The
server is killed with SIGKILL several times and restarted; meanwhile the
write-back downstream (a local mParticle Events API) answers 503, then
times out, then throttles, then recovers. When the stream ends and the
queue drains, the run checks that every acknowledged event is stored exactly
once and every recommendation list was forwarded under one key only.
Everything it creates (database, files, processes) is removed at the end.
"""

import argparse
import asyncio
import contextlib
import json
import queue
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.db import Database
from app.ingest.parsing import ParseOptions, parse_batch
from app.models import Batch, CachedRecommendation, Interaction, Job
from tests.databases import scratch_postgresql
from tests.fakes.mparticle import FakeEventsApi, Reply
from tests.server import ServerProcess, recloop_env

INGEST_AUTH = ("bench-ingest-key", "bench-ingest-secret")
ACTIONS = ("view_detail", "add_to_cart", "add_to_wishlist", "purchase")
PARSE = ParseOptions(actions=frozenset(ACTIONS), received_at_ms=0)
SENDERS = 4
DRAIN_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class Plan:
    seconds: float = 30.0
    posts_per_second: float = 40.0
    kills: int = 4
    users: int = 60
    items: int = 50
    outage_seconds: float = 12.0
    seed: int = 5


@dataclass
class Tally:
    """What the sender saw; shared by its threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: int = 0
    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    unanswered: int = 0
    retried_statuses: dict[int, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def batches(plan: Plan) -> Iterator[tuple[str, dict]]:
    """An endless stream of (route, batch) as mParticle and SDKs send them."""
    rng = random.Random(plan.seed)  # noqa: S311 - reproducible test data
    while True:
        mpid = 9_000_000_000_000_000_000 + rng.randrange(plan.users)
        events = [_event(rng, plan) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            batch = {
                "mpid": mpid,
                "batch_id": rng.getrandbits(62),
                "environment": "production",
                "events": events,
            }
            yield "/webhooks/mparticle", batch
        else:
            batch = {
                "mpid": mpid,
                "source_request_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "environment": "production",
                "events": events,
            }
            yield "/v2/events", batch


def _event(rng: random.Random, plan: Plan) -> dict:
    products = [{"id": f"SKU-{rng.randrange(plan.items)}"} for _ in range(2)]
    return {
        "event_type": "commerce_event",
        "data": {
            "message_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "timestamp_unixtime_ms": 1_764_700_000_000 + rng.randrange(10**9),
            "product_action": {"action": rng.choice(ACTIONS), "products": products},
        },
    }


class Sender:
    """Posts at a steady rate; each post is re-sent until it gets a 202."""

    def __init__(self, server: ServerProcess, plan: Plan) -> None:
        self.tally = Tally()
        self._server = server
        self._plan = plan
        self._posts: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._send) for _ in range(SENDERS)]

    def run(self, stop: threading.Event) -> None:
        for thread in self._threads:
            thread.start()
        interval = 1 / self._plan.posts_per_second
        stream = batches(self._plan)
        next_at = time.monotonic()
        while not stop.is_set():
            self._posts.put(next(stream))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        for _ in self._threads:
            self._posts.put(None)
        for thread in self._threads:
            thread.join()

    def _send(self) -> None:
        with httpx.Client(auth=INGEST_AUTH, timeout=5.0) as client:
            while (post := self._posts.get()) is not None:
                self._deliver(client, *post)

    def _deliver(self, client: httpx.Client, route: str, batch: dict) -> None:
        parsed = parse_batch(batch, PARSE)
        keys = [row.key for row in parsed.interactions]
        with self.tally.lock:
            self.tally.posts += 1
        while True:
            status = self._post(client, route, batch)
            if status == 202:
                with self.tally.lock:
                    self.tally.acknowledged[parsed.key] = keys
                return
            if status is not None and status < 500 and status != 429:
                with self.tally.lock:
                    self.tally.refused.append(f"{status} {parsed.key}")
                return
            time.sleep(0.2)

    def _post(self, client: httpx.Client, route: str, batch: dict) -> int | None:
        try:
            status = client.post(self._server.base_url + route, json=batch).status_code
        except httpx.TransportError:
            with self.tally.lock:
                self.tally.unanswered += 1
            return None
        if status != 202:
            with self.tally.lock:
                counts = self.tally.retried_statuses
                counts[status] = counts.get(status, 0) + 1
        return status


def outage(events_api: FakeEventsApi, plan: Plan) -> None:
    """503s, then timeouts, then throttling, each a third of the outage."""
    third = plan.outage_seconds / 3
    time.sleep(plan.seconds * 0.3)
    events_api.fail_all(Reply(503))
    time.sleep(third)
    events_api.recover()
    # Longer than the client's timeout: mParticle may keep what it got.
    events_api.delay_seconds = 1.5
    time.sleep(third)
    events_api.delay_seconds = 0.0
    events_api.fail_all(Reply(429, headers={"Retry-After": "1"}))
    time.sleep(third)
    events_api.recover()


def kill_and_restart(
    server: ServerProcess, plan: Plan, stop: threading.Event, totals: Counter
) -> int:
    """Kill -9 and restart the server; scrape its counters just before each kill."""
    kills = 0
    pause = plan.seconds / (plan.kills + 1)
    while kills < plan.kills and not stop.wait(pause):
        totals.update(scrape(server))
        server.kill(signal.SIGKILL)
        kills += 1
        time.sleep(0.3)
        server.start()
    return kills


async def settle(database: Database) -> None:
    """Wait until no job is left and every cached list has been written back."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        async with database.read() as session:
            jobs = await session.scalar(select(func.count()).select_from(Job))
            rows = (await session.scalars(select(CachedRecommendation))).all()
        if not jobs and all(row.synced_item_ids == _ids(row) for row in rows):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the job queue did not drain")


def _ids(row: CachedRecommendation) -> list[str]:
    return [item["item_id"] for item in row.items]


async def check_storage(database: Database, tally: Tally) -> dict[str, int]:
    async with database.read() as session:
        batch_keys = (await session.scalars(select(Batch.key))).all()
        interaction_keys = (await session.scalars(select(Interaction.key))).all()
    acknowledged = set(tally.acknowledged)
    expected = {key for keys in tally.acknowledged.values() for key in keys}
    stored = set(interaction_keys)
    return {
        "acknowledged_batches": len(acknowledged),
        "acknowledged_events_lost": len(expected - stored),
        "acknowledged_batches_lost": len(acknowledged - set(batch_keys)),
        "interactions_stored": len(interaction_keys),
        "interactions_stored_twice": len(interaction_keys) - len(stored),
        "interactions_never_acknowledged": len(stored - expected),
    }


async def check_forwarding(
    database: Database, events_api: FakeEventsApi
) -> dict[str, int]:
    """Write-back: one key per list version, and every final list delivered.

    Another downstream (Amazon Personalize) plugs in the same way: group what
    it received by content (the interaction) and count the keys (`eventId`).
    """
    keys_by_version: dict[tuple[int, str], set[str]] = defaultdict(set)
    for batch in events_api.accepted_batches:
        attributes = batch["events"][0]["data"]["custom_attributes"]
        version = (batch["mpid"], attributes["recommendation_id"])
        keys_by_version[version].add(batch["source_request_id"])
    async with database.read() as session:
        rows = (await session.scalars(select(CachedRecommendation))).all()
    missing = [
        row for row in rows if (row.mpid, row.recommendation_id) not in keys_by_version
    ]
    return {
        "writeback_requests": len(events_api.requests),
        "writeback_requests_failed_by_outage": len(events_api.requests)
        - len(events_api.accepted),
        "writeback_batches_accepted": len(events_api.accepted_batches),
        "writeback_keys": len(events_api.delivered()),
        "list_versions_under_two_keys": sum(
            len(keys) > 1 for keys in keys_by_version.values()
        ),
        "final_lists_not_delivered": len(missing),
        "overlapping_requests_for_one_user": len(events_api.overlapping_mpids),
    }


def scrape(server: ServerProcess) -> dict[str, float]:
    """The run's counters from one server process (they restart with it)."""
    wanted = (
        "recloop_jobs_finished_total",
        "recloop_external_call_errors_total",
        "recloop_ingest_batches_total",
        "recloop_ingest_interactions_total",
        "recloop_ingest_duplicates_total",
    )
    try:
        text = httpx.get(server.base_url + "/metrics", timeout=10).text
    except httpx.TransportError:
        return {}
    lines = text.splitlines()
    return {
        name: float(value)
        for line in lines
        if line.startswith(wanted)
        for name, value in [line.rsplit(" ", 1)]
    }


def run(plan: Plan, database_url: str, workdir: Path) -> dict:
    """One crash-and-outage run against a migrated-or-empty database."""
    with FakeEventsApi() as events_api:
        server = ServerProcess(_env(database_url, events_api), workdir / "serve.log")
        server.start()
        try:
            return _run(plan, server, events_api, database_url)
        finally:
            server.stop()


def _run(plan, server, events_api, database_url) -> dict:
    stop = threading.Event()
    sender = Sender(server, plan)
    threads = [
        threading.Thread(target=sender.run, args=(stop,)),
        threading.Thread(target=outage, args=(events_api, plan)),
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    totals: Counter = Counter()
    kills = kill_and_restart(server, plan, stop, totals)
    time.sleep(max(0.0, plan.seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join()
    events_api.recover()

    async def verify() -> dict:
        database = Database.from_url(database_url)
        try:
            await settle(database)
            storage = await check_storage(database, sender.tally)
            forwarding = await check_forwarding(database, events_api)
        finally:
            await database.dispose()
        return storage | forwarding

    figures = asyncio.run(verify())
    tally = sender.tally
    return {
        "seconds": round(time.monotonic() - started, 1),
        "kills": kills,
        "posts": tally.posts,
        "resends_after_no_answer": tally.unanswered,
        "resends_after_status": tally.retried_statuses,
        "refused": len(tally.refused),
        **figures,
        "metrics_summed_over_processes": dict(
            sorted((totals + Counter(scrape(server))).items())
        ),
    }


def passed(result: dict) -> bool:
    zero = (
        "acknowledged_events_lost",
        "acknowledged_batches_lost",
        "interactions_stored_twice",
        "interactions_never_acknowledged",
        "list_versions_under_two_keys",
        "final_lists_not_delivered",
        "overlapping_requests_for_one_user",
        "refused",
    )
    return result["kills"] > 0 and all(result[name] == 0 for name in zero)


def _env(database_url: str, events_api: FakeEventsApi) -> dict[str, str]:
    return {
        **recloop_env(database_url, INGEST_AUTH, events_api),
        "RECLOOP_MPARTICLE_TIMEOUT_SECONDS": "1",
        "RECLOOP_WORKER_POLL_SECONDS": "0.05",
        "RECLOOP_JOB_BACKOFF_BASE_SECONDS": "0.2",
        "RECLOOP_JOB_BACKOFF_MAX_SECONDS": "2",
        "RECLOOP_JOB_LEASE_SECONDS": "3",
        "RECLOOP_RETRAIN_MIN_INTERVAL_SECONDS": "1",
        "RECLOOP_RAW_BATCH_RETENTION_DAYS": "0",
        "RECLOOP_LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def scratch_database(server_url: str | None, workdir: Path) -> Iterator[str]:
    """A database of the run's own: a SQLite file, or a new PostgreSQL database."""
    if server_url is None:
        yield f"sqlite:///{workdir / 'crash.db'}"
        return
    with scratch_postgresql(server_url, "recloop_crash") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a PostgreSQL server URL; SQLite if unset")
    parser.add_argument("--seconds", type=float, default=Plan.seconds)
    parser.add_argument("--rate", type=float, default=Plan.posts_per_second)
    parser.add_argument("--kills", type=int, default=Plan.kills)
    parser.add_argument("--outage-seconds", type=float, default=Plan.outage_seconds)
    args = parser.parse_args()
    plan = Plan(
        seconds=args.seconds,
        posts_per_second=args.rate,
        kills=args.kills,
        outage_seconds=args.outage_seconds,
    )
    with tempfile.TemporaryDirectory(prefix="recloop-crash-") as folder:
        workdir = Path(folder)
        with scratch_database(args.database, workdir) as database_url:
            result = run(plan, database_url, workdir)
    print(json.dumps(result, indent=2))
    print("PASS" if passed(result) else "FAIL")
    sys.exit(0 if passed(result) else 1)


if __name__ == "__main__":
    main()
