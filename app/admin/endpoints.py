from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from app.admin.schemas import JobList, JobView, ReplayResult
from app.deps import AdminAuth, DatabaseDep
from app.exceptions import NotFound, error_responses
from app.worker import repository

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAuth])

# Job kinds and keys are plain text; PostgreSQL cannot even compare U+0000.
NO_NUL = r"^[^\x00]*$"
AUTH_ERRORS = {"e401": "No admin credentials.", "e403": "Wrong admin credentials."}


@router.get("/jobs", responses=error_responses(**AUTH_ERRORS, e422="Bad filter."))
async def list_jobs(
    database: DatabaseDep,
    status: Annotated[Literal["pending", "running", "dead"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    key: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_LISTED_JOBS)] = 100,
) -> JobList:
    """Jobs in the queue, oldest first, filtered by status, kind and key."""
    where = repository.JobFilter(status=status, kind=kind, key=key, limit=limit)
    async with database.read() as session:
        jobs = await repository.list_jobs(session, where)
    return JobList(jobs=[JobView.model_validate(job) for job in jobs])


@router.post(
    "/jobs/{job_id}/replay",
    responses=error_responses(**AUTH_ERRORS, e404="No dead job with this id."),
)
async def replay_job(
    database: DatabaseDep,
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> ReplayResult:
    """Put one dead job back in the queue."""
    async with database.write() as session:
        job = await repository.replay(session, job_id)
    if job is None:
        raise NotFound(f"job_id: no dead job with id {job_id}")
    return ReplayResult(replayed=1)


@router.post(
    "/jobs/replay", responses=error_responses(**AUTH_ERRORS, e422="No kind given.")
)
async def replay_kind(
    database: DatabaseDep,
    kind: Annotated[str, Query(min_length=1, max_length=32, pattern=NO_NUL)],
) -> ReplayResult:
    """Put every dead job of a kind back in the queue."""
    async with database.write() as session:
        count = await repository.replay_kind(session, kind)
    return ReplayResult(replayed=count)
