"""Reading an ingest request's JSON body safely.

The size limit is enforced while the body streams in, on the decompressed
bytes when the sender gzips, so an oversized, endless or zip-bomb request is
refused after at most the limit in memory.
"""

import zlib
from typing import Any

from fastapi import Request
from pydantic_core import from_json

from app.exceptions import BodyTooLarge, MalformedJSON, UnsupportedMediaType

IDENTITY_ENCODINGS = frozenset({"", "identity"})
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
# zlib's window-bits value that accepts the gzip container.
GZIP_WBITS = 16 + zlib.MAX_WBITS


def require_json_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {media_type or 'missing'}"
        )


def _decoder(request: Request) -> Any:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in IDENTITY_ENCODINGS:
        return None
    if encoding in GZIP_ENCODINGS:
        return zlib.decompressobj(wbits=GZIP_WBITS)
    raise UnsupportedMediaType(
        f"Content-Encoding {encoding} is not supported; send gzip or no encoding"
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(_too_large(max_bytes))
    decoder = _decoder(request)
    body = bytearray()
    async for chunk in request.stream():
        body += _inflate(decoder, chunk, max_bytes - len(body))
        if len(body) > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes))
    if decoder is not None and not decoder.eof:
        raise MalformedJSON("Request body is not valid gzip: it ends early")
    return bytes(body)


def _inflate(decoder: Any, chunk: bytes, room: int) -> bytes:
    if decoder is None or not chunk:
        return chunk
    try:
        # One byte over the room is enough to know the body is too large,
        # without inflating the rest of a bomb.
        return decoder.decompress(chunk, max(room, 0) + 1)
    except zlib.error as exc:
        raise MalformedJSON(f"Request body is not valid gzip: {exc}") from None


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
    """The body's JSON, or None for an empty body (a sender's connection check)."""
    require_json_content_type(request)
    body = await read_body(request, max_bytes)
    if not body.strip():
        return None
    return parse_json(body)


def _too_large(max_bytes: int) -> str:
    return f"Request body is larger than {max_bytes} bytes"
