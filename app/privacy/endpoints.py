from dataclasses import asdict

from fastapi import APIRouter

from app.config import RecommenderKind
from app.deps import AdminAuth, DatabaseDep, SettingsDep
from app.exceptions import error_responses
from app.metrics import USERS_ERASED
from app.privacy.schemas import ErasureResult
from app.privacy.service import erase_user
from app.recs.endpoints import MpidPath, parse_mpid_or_raise

router = APIRouter(tags=["privacy"], dependencies=[AdminAuth])


@router.delete(
    "/users/{mpid}",
    responses=error_responses(
        e401="No admin credentials.",
        e403="Wrong admin credentials.",
        e422="MPID not a signed 64-bit integer.",
    ),
)
async def delete_user(
    settings: SettingsDep,
    database: DatabaseDep,
    mpid: MpidPath,
) -> ErasureResult:
    """Erase everything recloop holds about a user, in one transaction."""
    user = parse_mpid_or_raise(mpid)
    # Personalize may hold the user's data: keep the MPID for delete-users.
    keep = (
        settings.recommender is RecommenderKind.personalize
        or settings.personalize_tracking_id is not None
        or settings.personalize_dataset_group_arn is not None
    )
    async with database.write() as session:
        summary = await erase_user(session, user, keep_for_personalize=keep)
    USERS_ERASED.inc()
    return ErasureResult(mpid=str(user), **asdict(summary))
