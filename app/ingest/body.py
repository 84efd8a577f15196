"""Reading an ingest request's JSON body safely.

The size limit is enforced while the body streams in, so an oversized or
endless request is refused after at most the limit in memory.
"""

from typing import Any

from fastapi import Request
from pydantic_core import from_json

from app.exceptions import BodyTooLarge, MalformedJSON, UnsupportedMediaType


def require_json_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {media_type or 'missing'}"
        )


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(_too_large(max_bytes))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes))
    return bytes(body)


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise MalformedJSON("Request body is empty; expected JSON")
    try:
        # pydantic-core's parser keeps integers exact (MPIDs exceed 2**53) and
        # refuses deep nesting with an error instead of exhausting the stack.
        return from_json(body, cache_strings="keys", allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedJSON(f"Request body is not valid JSON: {exc}") from None


async def read_json(request: Request, max_bytes: int) -> Any:
    require_json_content_type(request)
    return parse_json(await read_body(request, max_bytes))


def _too_large(max_bytes: int) -> str:
    return f"Request body is larger than {max_bytes} bytes"
