from pydantic import BaseModel, ConfigDict, Field


class ErasureResult(BaseModel):
    """What DELETE /users/{mpid} removed."""

    mpid: str = Field(description="The erased user's MPID as a decimal string.")
    interactions: int
    impressions: int
    batches: int
    recommendations: int
    jobs: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mpid": "7346244611012968789",
                    "interactions": 42,
                    "impressions": 10,
                    "batches": 7,
                    "recommendations": 1,
                    "jobs": 1,
                }
            ]
        }
    )
