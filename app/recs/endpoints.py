from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from app.deps import require_recs_token
from app.exceptions import ValueOutOfRange, error_responses
from app.ingest.schemas import INT64_MAX, INT64_MIN, MpId
from app.metrics import RECS_SERVED
from app.recs.schemas import UserRecommendations

router = APIRouter(tags=["recommendations"])

_MPID = TypeAdapter(MpId)
MAX_N = 100

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


# Documented by hand: the route reads them itself (see below).
RECS_PARAMETERS = [
    {
        "name": "mpid",
        "in": "path",
        "required": True,
        "description": "The user's MPID, a signed 64-bit integer.",
        "schema": {
            "type": "integer",
            "format": "int64",
            "minimum": INT64_MIN,
            "maximum": INT64_MAX,
        },
    },
    {
        "name": "n",
        "in": "query",
        "required": False,
        "description": "How many items.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_N, "default": 5},
    },
]


@router.get(
    "/users/{mpid}/recs",
    response_model=UserRecommendations,
    openapi_extra={"parameters": RECS_PARAMETERS},
    responses={
        304: {"description": "Not modified: the list matches `If-None-Match`."},
        **error_responses(
            e401="RECLOOP_RECS_TOKEN is set and no bearer token was sent.",
            e403="Wrong bearer token.",
            e422="MPID not a signed 64-bit integer, or n out of range.",
        ),
    },
)
async def get_user_recommendations(request: Request) -> Response:
    """A user's top-n recommendations from the cache; popular items if unknown."""
    # Apps call this on every page view. FastAPI's parameter and dependency
    # resolution and its response validation cost more than the cached read
    # itself, so the route reads its parameters, takes what it needs from the
    # app state and writes its own JSON.
    await require_recs_token(request)
    mpid = parse_mpid_or_raise(request.path_params["mpid"])
    n = _n_or_raise(request.query_params.get("n", "5"))
    state = request.app.state
    served = await state.recs.for_user(mpid, n)
    RECS_SERVED.labels(served.source).inc()
    etag = f'"{served.recommendation_id}-{n}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"max-age={state.settings.recs_max_age_seconds}",
    }
    if etag in if_none_match(request):
        return Response(status_code=304, headers=headers)
    body = {
        "mpid": str(served.mpid),
        "items": [{"item_id": i.item_id, "score": i.score} for i in served.items],
        "recommendation_id": served.recommendation_id,
        "source": served.source,
        "generated_at": served.generated_at,
    }
    return Response(to_json(body), media_type="application/json", headers=headers)


def _n_or_raise(value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_N:
        raise ValueOutOfRange(f"n: must be an integer from 1 to {MAX_N}, not {value!r}")
    return int(text)


def if_none_match(request: Request) -> set[str]:
    """The entity tags of an If-None-Match header, weak ones compared as strong."""
    header = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
