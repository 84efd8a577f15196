from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.deps import DatabaseDep
from app.migrations import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Database unreachable or schema not at head."}},
)
async def readyz(database: DatabaseDep) -> JSONResponse:
    """Readiness: the database answers and its schema is at the latest migration."""
    expected = head_revision()
    try:
        async with database.engine.connect() as connection:
            current = await current_revision(connection)
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": f"schema at {current}, expected {expected}",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "schema": current})
