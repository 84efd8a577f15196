from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Liveness(BaseModel):
    status: Literal["ok"]

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str = Field(description='"ok", or why the database is not ready.')
    schema_revision: str | None = Field(
        default=None, alias="schema", description="The Alembic revision at head."
    )

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"status": "ok", "database": "ok", "schema": "0001"},
                {"status": "unavailable", "database": "schema at 0001, expected 0002"},
            ]
        },
    )
