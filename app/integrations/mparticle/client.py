"""The mParticle Events API, as recloop calls it for write-back."""

from typing import Any

import httpx
import structlog
from pydantic import SecretStr

log = structlog.get_logger(__name__)

# mParticle answers success with any status from 200 to 205 (202 in practice).
SUCCESS_STATUSES = range(200, 206)
# Statuses that no retry will fix: the request or the credentials are wrong.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 413})


class WritebackError(Exception):
    """A write-back request failed."""


class WritebackRejected(WritebackError):
    """mParticle refused the request; retrying the same request cannot succeed."""


class WritebackUnavailable(WritebackError):
    """mParticle cannot take the request now; retry (after `retry_after_seconds`)."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class WritebackThrottled(WritebackUnavailable):
    """mParticle answered 429: too many batches; wait as long as it says."""


class EventsApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        api_secret: SecretStr,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(
                api_key.get_secret_value(), api_secret.get_secret_value()
            ),
            timeout=httpx.Timeout(timeout_seconds),
            headers={"User-Agent": "recloop"},
            transport=transport,
        )

    async def send(self, batches: list[dict[str, Any]]) -> int | None:
        """Send one batch to /events, or several to /bulkevents in one request.

        Returns how much of its rate limit mParticle says is used, in percent.
        """
        path, body = (
            ("/events", batches[0]) if len(batches) == 1 else ("/bulkevents", batches)
        )
        try:
            response = await self._client.post(path, json=body)
        except httpx.TransportError as exc:
            raise WritebackUnavailable(
                f"mParticle unreachable: {type(exc).__name__}"
            ) from exc
        if response.status_code in SUCCESS_STATUSES:
            return _rate_limit_used(response)
        status = response.status_code
        message = f"mParticle answered {status} to {path}: {_error_message(response)}"
        if status in PERMANENT_STATUSES:
            raise WritebackRejected(message)
        if status == 429:
            raise WritebackThrottled(message, _retry_after(response))
        raise WritebackUnavailable(message, _retry_after(response))

    async def close(self) -> None:
        await self._client.aclose()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _rate_limit_used(response: httpx.Response) -> int | None:
    value = response.headers.get("x-mp-rate-limit-percentage-used", "").strip()
    return int(value) if value.isdigit() else None


def _error_message(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(error.get("message", error)) for error in errors)[:500]
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase
