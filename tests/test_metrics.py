"""The metrics helpers: timing external calls and labelling requests."""

import pytest
from prometheus_client import REGISTRY

from app import metrics

pytestmark = pytest.mark.anyio


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_observe_call_times_every_call_and_counts_failures() -> None:
    labels = {"target": "test-target", "operation": "op"}
    calls = _sample("recloop_external_call_duration_seconds_count", **labels)
    errors = _sample(
        "recloop_external_call_errors_total", **labels, error="TimeoutError"
    )

    async with metrics.observe_call("test-target", "op"):
        pass
    with pytest.raises(TimeoutError):
        async with metrics.observe_call("test-target", "op"):
            raise TimeoutError

    after = _sample("recloop_external_call_duration_seconds_count", **labels)
    failed = _sample(
        "recloop_external_call_errors_total", **labels, error="TimeoutError"
    )
    assert (after - calls, failed - errors) == (2, 1)


async def test_unknown_paths_share_one_label(start_app, database) -> None:
    app = await start_app()
    before = _sample(
        "recloop_http_requests_total", route="unmatched", method="GET", status="404"
    )
    for n in range(3):
        await app.client.get(f"/no/such/path/{n}")
    after = _sample(
        "recloop_http_requests_total", route="unmatched", method="GET", status="404"
    )
    assert after - before == 3
