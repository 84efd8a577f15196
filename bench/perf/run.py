"""recloop against a bare FastAPI app on the same machine, in one run.

    .venv/bin/python bench/perf/run.py                  # SQLite and PostgreSQL
    .venv/bin/python bench/perf/run.py --database postgresql --soak-seconds 60

Starts every server itself, drives it with wrk over loopback, prints each
figure with its ratio to the bare app's ceiling, and removes what it made.
"""

import argparse
import asyncio
import itertools
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import (  # type: ignore[import-not-found]
    AUTH_HEADER,
    INGEST_AUTH,
    LoadResult,
    ScratchDatabase,
    Server,
    bare_server,
    cpus,
    recloop_server,
    wrk,
)

SEEDED_USERS = 2000
CATALOG_ITEMS = 2000
FRESHNESS_PROBES = 60
# Each wrk run of post_batches.lua gets its own number, so ids never repeat.
_RUNS = itertools.count(1)


@dataclass
class Options:
    seconds: float
    connections: int
    soak_seconds: float
    workers: int
    postgres_url: str
    log_dir: Path

    @property
    def server_cpus(self) -> str | None:
        # One process per core leaves nothing to pin to; otherwise the server
        # gets core 0 and wrk the next one, so neither steals the other's time.
        return "0" if self.workers == 1 and cpus() > 1 else None

    @property
    def load_cpus(self) -> str | None:
        return "1" if self.workers == 1 and cpus() > 1 else None


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, name: str, value: str, ratio: str = "") -> None:
        self.rows.append((name, value, ratio))
        print(f"  {name:<48} {value:>28} {ratio:>10}", flush=True)

    def load(self, name: str, result: LoadResult, ceiling: LoadResult) -> None:
        """A load's rate with its ratio to the ceiling, then its latency."""
        self.add(name, _rate(result), _ratio(result.per_second, ceiling.per_second))
        self.add("  latency p50 / p99 (ms)", _latency(result))


def ceiling(options: Options) -> tuple[LoadResult, LoadResult]:
    bare = bare_server(options.log_dir, options.server_cpus, options.workers).start()
    try:
        post = _post(options, bare.url, "/ingest", events=1)
        get = wrk(
            bare.url,
            "get_recs.lua",
            options.seconds,
            options.connections,
            options.load_cpus,
            {"BENCH_PATH": "/recs"},
        )
    finally:
        bare.stop()
    return post, get


def measure(kind: str, options: Options, bare_post: LoadResult, bare_get: LoadResult):
    report = Report()
    print(f"\n== recloop on {kind}", flush=True)
    with ScratchDatabase(kind, options.postgres_url) as database:
        # The API process alone, as deployed for scale (`serve --no-worker`
        # beside `recloop worker`): the durable commit, job enqueue included.
        api = recloop_server(
            options.log_dir / kind,
            database.url,
            options.server_cpus,
            options.workers,
            job_worker=False,
        ).start()
        try:
            one = _post(options, api.url, "/webhooks/mparticle", events=1)
            report.load("ingest, 1-event batches (batches/s)", one, bare_post)
            _settle(api.url)
            ten = _post(options, api.url, "/webhooks/mparticle", events=10)
            report.add(
                "ingest, 10-event batches (events/s)", f"{ten.per_second * 10:,.0f}"
            )
            report.add("  latency p50 / p99 (ms)", _latency(ten))
            _settle(api.url)
            _check_no_duplicates(api.url)
            _check_errors(api.url, one=one, ten=ten)
        finally:
            api.stop()

        # The default single process: the job worker shares its core.
        server = recloop_server(
            options.log_dir / kind, database.url, options.server_cpus, options.workers
        ).start()
        try:
            asyncio.run(_drained(database))
            shared = _post(options, server.url, "/webhooks/mparticle", events=1)
            report.load(
                "ingest, 1-event, job worker in the same process", shared, bare_post
            )
            _settle(server.url)

            asyncio.run(_seed(server.url, database))
            get = wrk(
                server.url,
                "get_recs.lua",
                options.seconds,
                options.connections,
                options.load_cpus,
                {"BENCH_USERS": str(SEEDED_USERS)},
            )
            report.load("GET /users/{mpid}/recs, cache hits (req/s)", get, bare_get)

            # At half the rate this process sustains with its worker.
            p50, p95 = _freshness(server, shared.per_second / 2)
            report.add(
                f"freshness at {shared.per_second / 2:,.0f} batches/s, p50 / p95 (ms)",
                f"{p50:,.0f} / {p95:,.0f}",
            )
            if options.soak_seconds > 0:
                _soak(options, server, shared.per_second, report)
            _check_no_duplicates(server.url)
            _check_errors(server.url, shared=shared, get=get)
        finally:
            server.stop()
    return report


def _post(options: Options, url: str, path: str, events: int) -> LoadResult:
    env = {
        "BENCH_PATH": path,
        "BENCH_EVENTS": str(events),
        "BENCH_ITEMS": str(CATALOG_ITEMS),
        "BENCH_RUN": str(next(_RUNS)),
    }
    return wrk(
        url,
        "post_batches.lua",
        options.seconds,
        options.connections,
        options.load_cpus,
        env,
        (AUTH_HEADER,),
    )


async def _seed(url: str, database: ScratchDatabase) -> None:
    """Give SEEDED_USERS users a history and wait until all lists are cached."""
    async with httpx.AsyncClient(base_url=url, auth=INGEST_AUTH, timeout=30) as client:
        for start in range(0, SEEDED_USERS, 100):
            batches = [_history(mpid) for mpid in range(start + 1, start + 101)]
            await _post_accepted(client, "/v2/bulkevents", batches)
        for mpid in range(1, SEEDED_USERS + 1):
            # A first GET caches the list if the worker has not yet.
            (await client.get(f"/users/{mpid}/recs")).raise_for_status()
    await _drained(database)


async def _drained(database: ScratchDatabase) -> None:
    """Wait until the worker has run every job: it shares the server's CPU."""
    for _ in range(1200):
        if not await database.fetchval(
            "SELECT count(*) FROM jobs WHERE status <> 'dead'"
        ):
            return
        await asyncio.sleep(0.5)
    raise SystemExit("the job queue did not drain within 10 minutes")


async def _post_accepted(client: httpx.AsyncClient, path: str, body: object) -> None:
    """Post until accepted, waiting out 429s as mParticle's senders do."""
    for _ in range(30):
        response = await client.post(path, json=body)
        if response.status_code != 429:
            response.raise_for_status()
            return
        await asyncio.sleep(int(response.headers["Retry-After"]))
    raise SystemExit(f"{path} answered 429 thirty times in a row")


def _history(mpid: int) -> dict:
    events = [
        {
            "event_type": "commerce_event",
            "data": {
                "source_message_id": f"seed-{mpid}-{n}",
                "product_action": {
                    "action": "view_detail",
                    "products": [
                        {"id": f"SKU-{(mpid * 7 + n * 13) % CATALOG_ITEMS + 1}"}
                    ],
                },
            },
        }
        for n in range(6)
    ]
    return {"mpid": mpid, "events": events}


def _freshness(server: Server, rate: float) -> tuple[float, float]:
    """Post an event that must change a user's list; time until GET shows it."""
    connections = 16
    delay_ms = max(1000 * connections / rate, 1)
    background = _background(server, delay_ms, connections, FRESHNESS_PROBES)
    try:
        delays = [_probe(server.url, mpid) for mpid in range(1, FRESHNESS_PROBES + 1)]
    finally:
        background.wait()
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.95) - 1]


def _background(
    server: Server, delay_ms: float, connections: int, seconds: float
) -> subprocess.Popen[bytes]:
    """wrk posting in the background, each connection pausing `delay_ms`."""
    env = {
        "BENCH_DELAY_MS": f"{delay_ms:.0f}",
        "BENCH_ITEMS": str(CATALOG_ITEMS),
        # Background users start past the probed ones.
        "BENCH_USERS": str(SEEDED_USERS * 5),
        "BENCH_RUN": str(next(_RUNS)),
    }
    script = str(Path(__file__).parent / "post_batches.lua")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", script]
    command += ["-H", AUTH_HEADER, server.url]
    return subprocess.Popen(  # noqa: S603 - the bench's own command line
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL
    )


def _probe(url: str, mpid: int) -> float:
    with httpx.Client(base_url=url, auth=INGEST_AUTH, timeout=10) as client:
        before = client.get(f"/users/{mpid}/recs").json()
        top = before["items"][0]["item_id"]
        event = {
            "event_type": "commerce_event",
            "data": {
                "source_message_id": f"probe-{mpid}-{time.time_ns()}",
                "product_action": {"action": "purchase", "products": [{"id": top}]},
            },
        }
        client.post(
            "/v2/events", json={"mpid": mpid, "events": [event]}
        ).raise_for_status()
        acknowledged = time.perf_counter()
        while time.perf_counter() - acknowledged < 30:
            after = client.get(f"/users/{mpid}/recs").json()
            if after["recommendation_id"] != before["recommendation_id"]:
                return (time.perf_counter() - acknowledged) * 1000
            time.sleep(0.005)
    return float("inf")


def _soak(options: Options, server: Server, max_rate: float, report: Report) -> None:
    seconds = int(options.soak_seconds)
    background = _background(server, 1000 * 16 / (max_rate / 4), 16, seconds)
    samples = []
    started = time.monotonic()
    while background.poll() is None:
        samples.append((time.monotonic() - started, server.rss_bytes() / 2**20))
        time.sleep(min(10, max(seconds / 30, 1)))
    warm = [mb for at, mb in samples if at >= min(60, seconds / 5)] or [samples[-1][1]]
    report.add(
        f"memory over a {seconds} s soak: after warm-up / end / max (MB)",
        f"{warm[0]:,.0f} / {samples[-1][1]:,.0f} / {max(mb for _, mb in samples):,.0f}",
        _ratio(samples[-1][1], warm[0]),
    )


def _settle(url: str, seconds: float = 2) -> None:
    """Let requests that wrk abandoned at the end of a run finish first."""
    time.sleep(seconds)


def _check_no_duplicates(url: str) -> None:
    """The loads must have sent only fresh ids, or they measured the cheap path."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    counted = re.findall(r"^recloop_ingest_duplicates_total\{.*\} (\S+)$", text, re.M)
    duplicates = sum(float(value) for value in counted)
    if duplicates:
        raise SystemExit(f"the load sent {duplicates:.0f} duplicate batches or events")


def _check_errors(url: str, **results: LoadResult) -> None:
    failed = {name: result.errors for name, result in results.items() if result.errors}
    if failed:
        statuses = [
            line
            for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines()
            if line.startswith("recloop_http_requests_total{")
            and 'status="2' not in line
        ]
        raise SystemExit(f"errors during the run: {failed}; server counted {statuses}")


def _rate(result: LoadResult) -> str:
    return f"{result.per_second:,.0f}"


def _latency(result: LoadResult) -> str:
    return f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql", "both"], default="both"
    )
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--log-dir", type=Path, help="server logs (default: a new temp dir)"
    )
    args = parser.parse_args()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="recloop-bench-logs-"))
    options = Options(
        args.seconds,
        args.connections,
        args.soak_seconds,
        args.workers,
        args.postgres_url,
        log_dir,
    )
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]

    print(f"machine: {cpus()} cores; server on cpus {options.server_cpus}, ", end="")
    print(f"wrk on cpus {options.load_cpus}; server logs in {log_dir}")
    bare_post, bare_get = ceiling(options)
    print("== bare FastAPI (the ceiling)")
    print(f"  POST 1-event batch: {_rate(bare_post)} req/s, {_latency(bare_post)} ms")
    print(f"  GET small JSON:     {_rate(bare_get)} req/s, {_latency(bare_get)} ms")
    for kind in kinds:
        measure(kind, options, bare_post, bare_get)


if __name__ == "__main__":
    main()
