from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from app.deps import require_recs_token
from app.exceptions import ValueOutOfRange, error_responses
from app.ingest.schemas import INT64_MAX, INT64_MIN, MpId
from app.metrics import RECS_SERVED, child
from app.recs.schemas import UserRecommendations
from app.recs.service import ServedList

router = APIRouter(tags=["recommendations"])

_MPID = TypeAdapter(MpId)
MAX_N = 100
DEFAULT_N = 5

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
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_N,
            "default": DEFAULT_N,
        },
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
    # (`app.recs.fast_path` answers cache hits before this route is reached.)
    await require_recs_token(request)
    mpid = parse_mpid_or_raise(request.path_params["mpid"])
    n = _n_or_raise(request.query_params.get("n", str(DEFAULT_N)))
    state = request.app.state
    served = await state.recs.for_user(mpid, n)
    status_code, headers, body = render_recs(
        served,
        n,
        state.settings.recs_max_age_seconds,
        request.headers.get("if-none-match", ""),
    )
    response = Response(body, status_code)
    response.raw_headers = headers
    return response


def render_recs(
    served: ServedList, n: int, max_age_seconds: int, if_none_match: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, raw headers and body answering GET /users/{mpid}/recs: the
    list, or 304 when the app has it. The route and the fast path send it."""
    child(RECS_SERVED, served.source).inc()
    etag = f'"{served.recommendation_id}-{n}"'
    headers = [
        (b"etag", etag.encode()),
        (b"cache-control", b"max-age=%d" % max_age_seconds),
    ]
    if etag in entity_tags(if_none_match):
        return 304, headers, b""
    body = to_json(
        {
            "mpid": str(served.mpid),
            "items": [{"item_id": i.item_id, "score": i.score} for i in served.items],
            "recommendation_id": served.recommendation_id,
            "source": served.source,
            "generated_at": served.generated_at,
        }
    )
    headers.append((b"content-length", b"%d" % len(body)))
    headers.append((b"content-type", b"application/json"))
    return 200, headers, body


def _n_or_raise(value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_N:
        raise ValueOutOfRange(f"n: must be an integer from 1 to {MAX_N}, not {value!r}")
    return int(text)


def if_none_match(request: Request) -> set[str]:
    """The entity tags of the request's If-None-Match header."""
    return entity_tags(request.headers.get("if-none-match", ""))


def entity_tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match value, weak ones compared as strong."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
