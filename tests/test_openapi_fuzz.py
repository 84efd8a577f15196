"""Schemathesis against recloop's own OpenAPI document, every route.

Cases are generated from the document served by a real `recloop serve`
process; every response must be no 500 and match the documented status
codes, headers, content types and schemas. The suite's profile is small and
derandomized; `HYPOTHESIS_PROFILE=fuzz-long` runs many more cases.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import given

from app.config import Settings
from app.main import create_app
from tests.admin.test_endpoints import ADMIN_AUTH
from tests.conftest import INGEST_AUTH
from tests.server import ServerProcess

RECS_TOKEN = "fuzz-recs-token"
CREDENTIALS = {"ingest": INGEST_AUTH, "admin": ADMIN_AUTH, "privacy": ADMIN_AUTH}


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory) -> Iterator[ServerProcess]:
    env = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": INGEST_AUTH[0],
        "RECLOOP_INGEST_SECRET": INGEST_AUTH[1],
        "RECLOOP_ADMIN_KEY": ADMIN_AUTH[0],
        "RECLOOP_ADMIN_SECRET": ADMIN_AUTH[1],
        "RECLOOP_RECS_TOKEN": RECS_TOKEN,
        "RECLOOP_WORKER_POLL_SECONDS": "0.05",
        "RECLOOP_LOG_LEVEL": "WARNING",
    }
    log = Path(tmp_path_factory.mktemp("fuzz")) / "serve.log"
    with ServerProcess(env, log) as process:
        yield process


@pytest.fixture(scope="module")
def api(server: ServerProcess):
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")


def _operations() -> list[tuple[str, str]]:
    document = create_app(Settings(_env_file=None)).openapi()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    ]


def _auth(operation) -> dict:
    tags = operation.definition.raw.get("tags", [])
    if "recommendations" in tags:
        return {"headers": {"Authorization": f"Bearer {RECS_TOKEN}"}}
    for tag in tags:
        if tag in CREDENTIALS:
            return {"auth": CREDENTIALS[tag]}
    return {}


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_route_answers_as_documented(api, method: str, path: str) -> None:
    operation = api[path][method]
    credentials = _auth(operation)

    @given(case=operation.as_strategy())
    def answers_as_documented(case) -> None:
        case.call_and_validate(**credentials)

    answers_as_documented()
