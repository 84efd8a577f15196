import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.deps import RecommenderDep, RecsAuth, SettingsDep
from app.exceptions import NotFound, error_responses
from app.items.schemas import SimilarItems
from app.recs.endpoints import if_none_match
from app.recs.schemas import RecommendedItem

# Product pages ask from the browser: the same token and CORS as user lists.
router = APIRouter(tags=["recommendations"], dependencies=[RecsAuth])


@router.get(
    "/items/{item_id}/similar",
    responses={
        304: {"description": "Not modified: the list matches `If-None-Match`."},
        **error_responses(
            e404="The recommender does not know this item.", e422="n out of range."
        ),
    },
)
async def get_similar_items(
    request: Request,
    response: Response,
    recommender: RecommenderDep,
    settings: SettingsDep,
    item_id: Annotated[str, Path(max_length=256, description="The product id.")],
    n: Annotated[int, Query(ge=1, le=100, description="How many items.")] = 10,
) -> SimilarItems:
    """Items often interacted with by the shoppers of this one, for product pages."""
    similar = await recommender.similar_items(item_id, n)
    if similar is None:
        raise NotFound(f"item_id: {item_id!r} is unknown to the recommender")
    items = [RecommendedItem(item_id=i.item_id, score=i.score) for i in similar]
    body = SimilarItems(item_id=item_id, items=items, source=settings.recommender.value)
    etag = '"' + hashlib.sha256(body.model_dump_json().encode()).hexdigest()[:32] + '"'
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"max-age={settings.recs_max_age_seconds}"
    if etag in if_none_match(request):
        return Response(status_code=304, headers=dict(response.headers))  # type: ignore[return-value]
    return body
