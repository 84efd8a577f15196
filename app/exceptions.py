"""One error base class, rendered the same way for every route.

The body follows the mParticle Events API's error shape,
``{"errors": [{"code": "...", "message": "..."}]}``, so senders that already
parse mParticle's answers understand recloop's.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: mParticle's shape."""

    errors: list[ErrorDetail]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "errors": [
                        {
                            "code": "BAD_REQUEST",
                            "message": 'Required field "events[0].event_type" '
                            "is missing or empty",
                        }
                    ]
                }
            ]
        }
    )


def error_responses(**descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, e.g. `error_responses(e404="...")`."""
    return {
        int(name.removeprefix("e")): {"model": ErrorResponse, "description": text}
        for name, text in descriptions.items()
    }


class RecloopError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class BadRequest(RecloopError):
    status_code = 400
    code = "BAD_REQUEST"


class MalformedJSON(BadRequest):
    pass


class TooManyBatches(BadRequest):
    pass


class CredentialsMissing(RecloopError):
    status_code = 401
    code = "UNAUTHORIZED"

    def __init__(
        self, message: str, realm: str = "recloop", scheme: str = "Basic"
    ) -> None:
        super().__init__(
            message, headers={"WWW-Authenticate": f'{scheme} realm="{realm}"'}
        )


class CredentialsInvalid(RecloopError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(RecloopError):
    status_code = 404
    code = "NOT_FOUND"


class BodyTooLarge(RecloopError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(RecloopError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class ValueOutOfRange(RecloopError):
    status_code = 422
    code = "UNPROCESSABLE_ENTITY"


class TooManyRequests(RecloopError):
    """More requests are in flight than recloop takes at once; retry shortly."""

    status_code = 429
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(RecloopError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})


def error_body(code: str, messages: list[str]) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message} for message in messages]}


def _render(
    status_code: int, code: str, messages: list[str], headers=None
) -> JSONResponse:
    return JSONResponse(
        error_body(code, messages), status_code=status_code, headers=headers
    )


def error_response(exc: RecloopError) -> JSONResponse:
    """The documented answer to a recloop error, in mParticle's error shape."""
    return _render(exc.status_code, exc.code, [exc.message], exc.headers)


async def _recloop_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecloopError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    messages = [_describe(error) for error in exc.errors()]
    return _render(422, ValueOutOfRange.code, messages)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = str(exc.detail).upper().replace(" ", "_")
    return _render(exc.status_code, code, [str(exc.detail)], exc.headers)


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {error['msg']}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RecloopError, _recloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
