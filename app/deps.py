"""Request dependencies: what the lifespan built, reached from a route."""

from typing import Annotated

import structlog
from fastapi import Depends, Request

from app.auth import check_basic, check_bearer
from app.config import Settings
from app.db import Database
from app.ingest.writer import IngestWriter
from app.recommenders.base import Recommender
from app.recs.service import RecsService

log = structlog.get_logger(__name__)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.database


async def get_recs_service(request: Request) -> RecsService:
    return request.app.state.recs


async def get_recommender(request: Request) -> Recommender:
    return request.app.state.runtime.recommender


async def get_ingest_writer(request: Request) -> IngestWriter:
    return request.app.state.runtime.ingest_writer


async def require_ingest_credentials(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.ingest_key is None or settings.ingest_secret is None:
        return
    check_basic(request, settings.ingest_key, settings.ingest_secret, realm="ingest")


async def require_admin_credentials(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.admin_key is None or settings.admin_secret is None:
        return
    check_basic(request, settings.admin_key, settings.admin_secret, realm="admin")


async def require_recs_token(request: Request) -> None:
    token = request.app.state.settings.recs_token
    if token is not None:
        check_bearer(request, token, realm="recommendations")


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RecsServiceDep = Annotated[RecsService, Depends(get_recs_service)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
IngestWriterDep = Annotated[IngestWriter, Depends(get_ingest_writer)]
IngestAuth = Depends(require_ingest_credentials)
AdminAuth = Depends(require_admin_credentials)
RecsAuth = Depends(require_recs_token)
