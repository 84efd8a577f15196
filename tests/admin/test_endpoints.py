"""The admin API: its own credentials, job listing and replay."""

import pytest
from sqlalchemy import select

from app.models import Job, JobStatus
from tests.conftest import INGEST_AUTH
from tests.worker.conftest import add_jobs

pytestmark = pytest.mark.anyio

ADMIN_AUTH = ("test-admin-key", "test-admin-secret")


async def _admin_app(start_app):
    return await start_app(admin_key=ADMIN_AUTH[0], admin_secret=ADMIN_AUTH[1])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/jobs"),
        ("POST", "/admin/jobs/1/replay"),
        ("POST", "/admin/jobs/replay?kind=sync"),
        ("DELETE", "/users/1"),
    ],
)
async def test_admin_routes_want_admin_credentials_not_ingest_ones(
    start_app, database, method, path
) -> None:
    app = await _admin_app(start_app)
    missing = await app.client.request(method, path, auth=None)
    ingest = await app.client.request(method, path, auth=INGEST_AUTH)
    half = await app.client.request(method, path, auth=(ADMIN_AUTH[0], "x"))

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Basic realm="admin"'
    assert ingest.status_code == half.status_code == 403


async def test_ingest_routes_refuse_admin_credentials(start_app, database) -> None:
    app = await _admin_app(start_app)
    response = await app.client.post("/v2/bulkevents", json=[], auth=ADMIN_AUTH)
    assert response.status_code == 403


async def test_list_jobs_filters_by_status_and_kind(start_app, database) -> None:
    app = await _admin_app(start_app)
    await add_jobs(database, "refresh", "1")
    await add_jobs(database, "sync", "2", dead=True)

    response = await app.client.get(
        "/admin/jobs", params={"status": "dead", "kind": "sync"}, auth=ADMIN_AUTH
    )

    assert response.status_code == 200
    [job] = response.json()["jobs"]
    assert (job["kind"], job["key"], job["status"]) == ("sync", "2", "dead")
    assert "sync 2 refused" in job["last_error"]


async def test_bad_filters_are_422_naming_them(start_app, database) -> None:
    app = await _admin_app(start_app)
    response = await app.client.get(
        "/admin/jobs", params={"status": "gone"}, auth=ADMIN_AUTH
    )
    assert response.status_code == 422
    assert "status" in response.json()["errors"][0]["message"]


async def test_nul_characters_in_filters_are_422_not_a_database_error(
    start_app, database
) -> None:
    app = await _admin_app(start_app)
    listed = await app.client.get(
        "/admin/jobs", params={"kind": "sync\x00"}, auth=ADMIN_AUTH
    )
    replayed = await app.client.post(
        "/admin/jobs/replay", params={"kind": "\x00"}, auth=ADMIN_AUTH
    )
    assert listed.status_code == replayed.status_code == 422
    assert "kind" in listed.json()["errors"][0]["message"]


async def test_replay_one_and_all_of_a_kind(start_app, database) -> None:
    app = await _admin_app(start_app)
    await add_jobs(database, "sync", "1", "2", "3", dead=True)
    async with database.read() as session:
        first = await session.scalar(select(Job.id).where(Job.key == "1"))

    one = await app.client.post(f"/admin/jobs/{first}/replay", auth=ADMIN_AUTH)
    again = await app.client.post(f"/admin/jobs/{first}/replay", auth=ADMIN_AUTH)
    rest = await app.client.post(
        "/admin/jobs/replay", params={"kind": "sync"}, auth=ADMIN_AUTH
    )

    assert one.json() == {"replayed": 1}
    assert again.status_code == 404
    assert f"no dead job with id {first}" in again.json()["errors"][0]["message"]
    assert rest.json() == {"replayed": 2}
    async with database.read() as session:
        statuses = set((await session.scalars(select(Job.status))).all())
    assert statuses == {JobStatus.pending}


async def test_replayed_jobs_run_again(start_app, database) -> None:
    app = await _admin_app(start_app)
    await add_jobs(database, "retention", "raw_batches", dead=True)
    await app.client.post(
        "/admin/jobs/replay", params={"kind": "retention"}, auth=ADMIN_AUTH
    )
    assert await app.run_jobs() == 1
    async with database.read() as session:
        assert (await session.scalars(select(Job))).all() == []
