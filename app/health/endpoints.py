from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.deps import DatabaseDep
from app.health.schemas import Liveness, Readiness
from app.migrations import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Liveness:
    """Liveness: the process is up and serving."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses={
        503: {"model": Readiness, "description": "Database unreachable or behind."}
    },
)
async def readyz(database: DatabaseDep) -> JSONResponse:
    """Readiness: the database answers and its schema is at the latest migration."""
    expected = head_revision()
    try:
        async with database.engine.connect() as connection:
            current = await current_revision(connection)
    except (SQLAlchemyError, OSError) as exc:
        return _unavailable(f"unreachable: {type(exc).__name__}")
    if current != expected:
        return _unavailable(f"schema at {current}, expected {expected}")
    ready = Readiness(status="ok", database="ok", schema_revision=current)
    return JSONResponse(ready.model_dump(by_alias=True))


def _unavailable(reason: str) -> JSONResponse:
    body = Readiness(status="unavailable", database=reason)
    return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), 503)
