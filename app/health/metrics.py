"""GET /metrics: this process's counters plus the job queue read from the database."""

from fastapi import APIRouter, Response
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from app import metrics
from app.db import Database
from app.deps import DatabaseDep
from app.models.base import utcnow
from app.worker.repository import queue_stats

router = APIRouter(tags=["health"])

EXAMPLE = """\
# HELP recloop_jobs Jobs in the queue by kind and status (read at scrape time).
# TYPE recloop_jobs gauge
recloop_jobs{kind="refresh",status="pending"} 3.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {
                "text/plain": {"schema": {"type": "string"}, "example": EXAMPLE}
            },
        }
    },
)
async def get_metrics(database: DatabaseDep) -> Response:
    """Prometheus metrics: requests, ingest, jobs, external calls, recommendations."""
    families = await database_families(database)
    return Response(metrics.render(families), media_type=metrics.CONTENT_TYPE)


async def database_families(database: Database) -> list[GaugeMetricFamily]:
    up = GaugeMetricFamily(
        "recloop_database_up", "1 when the database answered this scrape."
    )
    jobs = GaugeMetricFamily(
        "recloop_jobs",
        "Jobs in the queue by kind and status (read at scrape time).",
        labels=["kind", "status"],
    )
    oldest = GaugeMetricFamily(
        "recloop_job_oldest_age_seconds",
        "Age of the oldest job by kind and status (read at scrape time).",
        labels=["kind", "status"],
    )
    try:
        async with database.read() as session:
            stats = await queue_stats(session)
    except (SQLAlchemyError, OSError):
        up.add_metric([], 0)
        return [up]
    now = utcnow()
    up.add_metric([], 1)
    for row in stats:
        jobs.add_metric([row.kind, row.status], row.count)
        age = (now - row.oldest_created_at).total_seconds()
        oldest.add_metric([row.kind, row.status], max(age, 0.0))
    return [up, jobs, oldest]
