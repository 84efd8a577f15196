from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import DatabaseDep, SettingsDep
from app.exceptions import error_responses
from app.impact.schemas import RecsStats
from app.impact.service import recs_stats

router = APIRouter(tags=["impact"])


@router.get("/stats/recs", responses=error_responses(e422="days out of range."))
async def get_recs_stats(
    database: DatabaseDep,
    settings: SettingsDep,
    days: Annotated[
        int, Query(ge=1, le=366, description="How many recent days to report.")
    ] = 30,
) -> RecsStats:
    """Click-through, add-to-cart and purchase rates of lists, per source and day."""
    return await recs_stats(database, days, settings.attribution_window_seconds)
