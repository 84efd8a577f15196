from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from app.deps import RecsAuth, RecsServiceDep, SettingsDep
from app.exceptions import ValueOutOfRange, error_responses
from app.ingest.schemas import INT64_MAX, INT64_MIN, MpId
from app.metrics import RECS_SERVED
from app.recs.schemas import RecommendedItem, UserRecommendations

router = APIRouter(tags=["recommendations"], dependencies=[RecsAuth])

_MPID = TypeAdapter(MpId)

# The path segment as documented: an integer within signed 64 bits. Other
# text is answered with a 422 naming it.
MpidPath = Annotated[
    str,
    Path(
        description="The user's MPID, a signed 64-bit integer.",
        json_schema_extra={
            "type": "integer",
            "format": "int64",
            "minimum": INT64_MIN,
            "maximum": INT64_MAX,
        },
    ),
]


def parse_mpid_or_raise(value: str) -> int:
    try:
        return _MPID.validate_python(value)
    except ValidationError as exc:
        raise ValueOutOfRange(f"mpid: {exc.errors()[0]['msg']}") from None


@router.get(
    "/users/{mpid}/recs",
    responses={
        304: {"description": "Not modified: the list matches `If-None-Match`."},
        **error_responses(
            e401="RECLOOP_RECS_TOKEN is set and no bearer token was sent.",
            e403="Wrong bearer token.",
            e422="MPID not a signed 64-bit integer, or n out of range.",
        ),
    },
)
async def get_user_recommendations(
    request: Request,
    response: Response,
    recs: RecsServiceDep,
    settings: SettingsDep,
    mpid: MpidPath,
    n: Annotated[int, Query(ge=1, le=100, description="How many items.")] = 5,
) -> UserRecommendations:
    """A user's top-n recommendations from the cache; popular items if unknown."""
    served = await recs.for_user(parse_mpid_or_raise(mpid), n)
    RECS_SERVED.labels(served.source).inc()
    etag = f'"{served.recommendation_id}-{n}"'
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"max-age={settings.recs_max_age_seconds}"
    if etag in if_none_match(request):
        return Response(status_code=304, headers=dict(response.headers))  # type: ignore[return-value]
    return UserRecommendations(
        mpid=str(served.mpid),
        items=[RecommendedItem(item_id=i.item_id, score=i.score) for i in served.items],
        recommendation_id=served.recommendation_id,
        source=served.source,  # type: ignore[arg-type]
        generated_at=served.generated_at,
    )


def if_none_match(request: Request) -> set[str]:
    """The entity tags of an If-None-Match header, weak ones compared as strong."""
    header = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
