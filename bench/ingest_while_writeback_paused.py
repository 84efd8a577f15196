"""Does a throttled mParticle slow ingest down? Ingest latency and throughput
of `recloop serve` (SQLite, worker on) in three runs, each on a fresh
database:

- baseline: write-back off;
- writeback: write-back on, the local Events API accepting everything;
- paused: write-back on, the Events API answering every request 429 with
  Retry-After: 1, so write-back is paused nearly all the time.

Prints each run's numbers and its ratio to the baseline measured in the
same run. Usage: .venv/bin/python -m bench.ingest_while_writeback_paused
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.batches import outbound_batch, product_event
from tests.fakes.mparticle import FakeEventsApi, Reply
from tests.server import ServerProcess

AUTH = ("bench-key", "bench-secret")
CATALOG = [f"SKU-{n}" for n in range(200)]


def _env(database: Path, events_api: FakeEventsApi | None) -> dict[str, str]:
    env = {
        "RECLOOP_DATABASE_URL": f"sqlite:///{database}",
        "RECLOOP_INGEST_KEY": AUTH[0],
        "RECLOOP_INGEST_SECRET": AUTH[1],
        "RECLOOP_LOG_LEVEL": "WARNING",
    }
    if events_api is not None:
        env |= {
            "RECLOOP_MPARTICLE_API_KEY": events_api.api_key,
            "RECLOOP_MPARTICLE_API_SECRET": events_api.api_secret,
            "RECLOOP_MPARTICLE_BASE_URL": events_api.base_url,
        }
    return env


async def _client_load(base_url: str, client_id: int, requests: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base_url, auth=AUTH, timeout=30) as client:
        for n in range(requests):
            mpid = client_id * 100_000 + n % 50
            skus = [
                CATALOG[(client_id * 7 + n * 3 + i) % len(CATALOG)] for i in range(3)
            ]
            batch = outbound_batch(mpid, product_event("view_detail", *skus))
            started = time.perf_counter()
            response = await client.post("/webhooks/mparticle", json=batch)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
    return latencies


async def _measure(base_url: str, clients: int, requests: int) -> dict[str, float]:
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_client_load(base_url, c, requests) for c in range(clients))
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(x for result in results for x in result)
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "requests_per_s": len(latencies) / elapsed,
    }


def _run(name: str, folder: Path, events_api, clients: int, requests: int) -> dict:
    env = _env(folder / f"{name}.db", events_api)
    with ServerProcess(env, folder / f"{name}.log") as server:
        numbers = asyncio.run(_measure(server.base_url, clients, requests))
    if events_api is not None:
        statuses = events_api.statuses
        numbers["writeback_requests"] = len(statuses)
        numbers["writeback_429s"] = statuses.count(429)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {
            "baseline": _run("baseline", folder, None, args.clients, args.requests)
        }
        with FakeEventsApi() as accepting:
            results["writeback"] = _run(
                "writeback", folder, accepting, args.clients, args.requests
            )
        with FakeEventsApi() as throttling:
            throttling.script(*[Reply(429, headers={"Retry-After": "1"})] * 100_000)
            results["paused"] = _run(
                "paused", folder, throttling, args.clients, args.requests
            )
    base = results["baseline"]
    for name, numbers in results.items():
        ratios = ", ".join(
            f"{key} x{numbers[key] / base[key]:.2f}"
            for key in ("p50_ms", "p95_ms", "requests_per_s")
        )
        shown = ", ".join(f"{k}={v:.1f}" for k, v in numbers.items())
        print(f"{name:10} {shown}\n{'':10} vs baseline: {ratios}")


if __name__ == "__main__":
    main()
