from pydantic import BaseModel, ConfigDict, Field

from app.recs.schemas import RecommendedItem


class SimilarItems(BaseModel):
    item_id: str
    items: list[RecommendedItem] = Field(
        description="Items shoppers who interacted with this one also interacted with."
    )
    source: str = Field(description='"embedded" or "personalize".')

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "SKU-1002",
                    "items": [{"item_id": "SKU-1007", "score": 0.61}],
                    "source": "embedded",
                }
            ]
        }
    )
