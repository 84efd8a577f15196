from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

JOB_EXAMPLE = {
    "id": 12,
    "kind": "sync",
    "key": "7346244611012968789",
    "status": "dead",
    "attempts": 1,
    "run_at": "2026-12-03T20:15:00Z",
    "created_at": "2026-12-03T20:14:58Z",
    "updated_at": "2026-12-03T20:15:01Z",
    "last_error": "PermanentJobError: mParticle answered 400 to /events: ...",
}


class JobView(BaseModel):
    id: int
    kind: str
    key: str = Field(description="The user's MPID for user jobs.")
    status: Literal["pending", "running", "dead"]
    attempts: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    last_error: str | None

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [JOB_EXAMPLE]}
    )


class JobList(BaseModel):
    jobs: list[JobView]

    model_config = ConfigDict(json_schema_extra={"examples": [{"jobs": [JOB_EXAMPLE]}]})


class ReplayResult(BaseModel):
    replayed: int = Field(description="Dead jobs put back in the queue.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"replayed": 3}]})
