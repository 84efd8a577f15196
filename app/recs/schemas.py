from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RecommendedItem(BaseModel):
    item_id: str
    score: float


class UserRecommendations(BaseModel):
    mpid: str = Field(
        description="The user's MPID as a decimal string (it exceeds 2**53)."
    )
    items: list[RecommendedItem]
    recommendation_id: str = Field(
        description="Identifies this list; send it back with the events it leads to."
    )
    source: Literal["embedded", "personalize", "popular"]
    generated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mpid": "7346244611012968789",
                    "items": [
                        {"item_id": "SKU-1002", "score": 0.91},
                        {"item_id": "SKU-1007", "score": 0.74},
                    ],
                    "recommendation_id": "9b2e4c1a-2f55-4c8e-a1f0-3d2b6e7c8a90",
                    "source": "embedded",
                    "generated_at": "2026-12-03T20:15:00Z",
                }
            ]
        }
    )
