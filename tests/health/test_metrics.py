"""GET /metrics: what a run did, in Prometheus format."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.batches import outbound_batch, product_event
from tests.fakes.mparticle import Reply
from tests.fakes.personalize import CAMPAIGN_ARN
from tests.health.conftest import unreachable_database
from tests.integrations.personalize.conftest import run_until_forwarded

pytestmark = pytest.mark.anyio


async def _scrape(app) -> dict[tuple[str, tuple], float]:
    response = await app.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_ingest_requests_outcomes_and_stored_rows_are_counted(
    start_app, database
) -> None:
    app = await start_app()
    before = await _scrape(app)
    batch = outbound_batch(1, product_event("view_detail", "A", "B"))
    await app.client.post("/webhooks/mparticle", json=batch)
    await app.client.post("/webhooks/mparticle", json=batch)
    await app.client.post("/v2/events", content=b"{", headers={"content-type": "x"})

    after = await _scrape(app)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    route = {"route": "/webhooks/mparticle", "method": "POST"}
    assert delta("recloop_http_requests_total", **route, status="202") == 2
    assert (
        delta(
            "recloop_http_requests_total",
            route="/v2/events",
            method="POST",
            status="415",
        )
        == 1
    )
    assert delta("recloop_ingest_batches_total", source="webhook") == 1
    assert delta("recloop_ingest_interactions_total", source="webhook") == 2
    assert delta("recloop_ingest_duplicates_total", source="webhook") == 1


async def test_the_job_queue_is_read_from_the_database_at_scrape_time(
    start_app, database
) -> None:
    app = await start_app()
    await app.client.post(
        "/webhooks/mparticle",
        json=[outbound_batch(m, product_event("view_detail", "A")) for m in (1, 2)],
    )
    samples = await _scrape(app)
    assert _value(samples, "recloop_database_up") == 1
    assert _value(samples, "recloop_jobs", kind="refresh", status="pending") == 2
    age = _value(
        samples, "recloop_job_oldest_age_seconds", kind="refresh", status="pending"
    )
    assert age >= 0

    await app.run_jobs()
    samples = await _scrape(app)
    assert ("recloop_jobs", (("kind", "refresh"), ("status", "pending"))) not in samples


async def test_an_unreachable_database_is_reported_not_a_500(start_app, database):
    app = await start_app()
    async with unreachable_database(app):
        samples = await _scrape(app)
    assert _value(samples, "recloop_database_up") == 0


async def test_job_outcomes_and_external_calls_are_counted(
    start_app, database, events_api
) -> None:
    app = await start_app(
        mparticle_api_key="mp-key",
        mparticle_api_secret="mp-secret",
        mparticle_base_url=events_api.base_url,
    )
    before = await _scrape(app)
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(1, product_event("view_detail", "A"))
    )
    events_api.script(Reply(503))
    await app.retrain()
    await app.run_jobs()
    after = await _scrape(app)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    call = {"target": "mparticle", "operation": "write_back"}
    assert (
        delta("recloop_jobs_finished_total", kind="refresh", outcome="completed") == 1
    )
    assert delta("recloop_jobs_finished_total", kind="sync", outcome="deferred") == 1
    assert delta("recloop_external_call_duration_seconds_count", **call) == 1
    errors = delta(
        "recloop_external_call_errors_total", **call, error="WritebackUnavailable"
    )
    assert errors == 1


async def test_personalize_calls_are_timed_and_their_failures_counted(
    start_app, database, personalize, personalize_settings
) -> None:
    personalize.default_list = ["P-1"]
    app = await start_app(**personalize_settings(personalize_campaign_arn=CAMPAIGN_ARN))
    before = await _scrape(app)
    # botocore's three attempts of the first PutEvents are all throttled.
    personalize.fail_next(3, 400, "ThrottlingException")
    await app.client.post(
        "/webhooks/mparticle", json=outbound_batch(1, product_event("view_detail", "A"))
    )
    await run_until_forwarded(app, database)
    after = await _scrape(app)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    put = {"target": "personalize", "operation": "put_events"}
    get = {"target": "personalize", "operation": "get_recommendations"}
    assert delta("recloop_external_call_duration_seconds_count", **put) == 2
    assert delta("recloop_external_call_duration_seconds_count", **get) == 1
    throttled = delta(
        "recloop_external_call_errors_total", **put, error="ThrottlingException"
    )
    assert throttled == 1
    assert delta("recloop_jobs_finished_total", kind="refresh", outcome="deferred") == 1


async def test_recommendations_served_by_source_and_cache_lookups(
    start_app, database
) -> None:
    app = await start_app()
    await app.client.post(
        "/webhooks/mparticle",
        json=[
            outbound_batch(1, product_event("view_detail", "A", "B")),
            outbound_batch(2, product_event("view_detail", "A", "B", "C")),
        ],
    )
    await app.retrain()
    before = await _scrape(app)
    await app.client.get("/users/1/recs")
    await app.client.get("/users/1/recs")
    await app.client.get("/users/999/recs")
    after = await _scrape(app)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("recloop_recommendations_served_total", source="embedded") == 2
    assert delta("recloop_recommendations_served_total", source="popular") == 1
    assert delta("recloop_recs_cache_lookups_total", result="hit") == 1
    assert delta("recloop_recs_cache_lookups_total", result="miss") == 2


async def test_route_labels_are_templates_never_mpids(start_app, database) -> None:
    app = await start_app()
    await app.client.get("/users/7346244611012968789/recs")
    text = (await app.client.get("/metrics")).text
    assert "7346244611012968789" not in text
    assert 'route="/users/{mpid}/recs"' in text
