"""boto3 clients for Amazon Personalize, built once with explicit settings.

Every client gets the same botocore `Config`: the `standard` retry mode (its
default differs between botocore versions), a bounded number of attempts and
explicit timeouts, so a slow or failing Personalize never holds a worker for
long; the worker's own backoff takes over after that. Every call a
Personalize client makes is timed and, when it fails, counted in /metrics.
Credentials come from the standard AWS chain alone: recloop never reads or
logs keys.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config

from app import metrics
from app.config import Settings
from app.integrations.personalize.errors import PERSONALIZE, translate
from app.worker.queue import Backoff

EVENTS = "personalize-events"
RUNTIME = "personalize-runtime"
CONTROL = "personalize"
S3 = "s3"
PERSONALIZE_SERVICES = frozenset({EVENTS, RUNTIME, CONTROL})


def client_config(settings: Settings, *, pool_size: int | None = None) -> Config:
    return Config(
        region_name=settings.personalize_region,
        retries={
            "mode": "standard",
            "total_max_attempts": settings.personalize_max_attempts,
        },
        connect_timeout=settings.personalize_connect_timeout_seconds,
        read_timeout=settings.personalize_read_timeout_seconds,
        max_pool_connections=pool_size or settings.personalize_max_concurrency,
        user_agent_extra="recloop",
    )


def _endpoint_url(settings: Settings, service: str) -> str | None:
    return {
        EVENTS: settings.personalize_events_endpoint_url,
        RUNTIME: settings.personalize_runtime_endpoint_url,
        CONTROL: settings.personalize_endpoint_url,
        S3: settings.personalize_s3_endpoint_url,
    }[service]


def build_client(settings: Settings, service: str) -> Any:
    """One client for `service`; clients are thread-safe, so build each once."""
    # A session of its own: boto3's default session is shared module state
    # and is not safe to create clients from in several threads.
    session = boto3.session.Session()
    client = session.client(
        service,  # type: ignore[call-overload]
        config=client_config(settings),
        endpoint_url=_endpoint_url(settings, service),
    )
    if service in PERSONALIZE_SERVICES:
        CallMetrics(PERSONALIZE).register(client.meta.events)
    return client


class CallMetrics:
    """Times every call of a botocore client and counts the failed ones.

    botocore announces each operation before its first request and after
    its last one (retries included), whether it ended in an answer or an
    exception. Listening there covers every call of the client, paginated
    listings included, with no wrapper at each call site.
    """

    # Where a call's start is kept in botocore's per-call context.
    CONTEXT_KEY = "recloop_call_started"

    def __init__(self, target: str) -> None:
        self._target = target

    def register(self, events: Any) -> None:
        events.register("before-call", self._started)
        events.register("after-call", self._answered)
        events.register("after-call-error", self._raised)

    def _started(self, model: Any, context: dict, **_: Any) -> None:
        context[self.CONTEXT_KEY] = (xform_name(model.name), time.perf_counter())

    def _answered(
        self, http_response: Any, parsed: dict, context: dict, **_: Any
    ) -> None:
        error = None
        if http_response.status_code >= 300:
            error = parsed.get("Error", {}).get("Code") or "ClientError"
        self._record(context, error)

    def _raised(self, exception: Exception, context: dict, **_: Any) -> None:
        self._record(context, type(exception).__name__)

    def _record(self, context: dict, error: str | None) -> None:
        started = context.pop(self.CONTEXT_KEY, None)
        if started is not None:
            operation, at = started
            seconds = time.perf_counter() - at
            metrics.record_call(self._target, operation, seconds, error)


class AsyncClient:
    """A boto3 client whose calls run in a thread pool of their own.

    boto3 blocks; running its calls off the event loop, in a pool sized like
    the client's connection pool, keeps requests and other jobs moving while
    Personalize answers slowly. Failures are translated into recloop's
    errors; an outage carries a pause from the client's `Backoff`, shared by
    every call it makes.
    """

    def __init__(
        self, client: Any, max_concurrency: int, name: str, backoff: Backoff
    ) -> None:
        self.client = client
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix=name
        )
        self._backoff = backoff

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        method: Callable[..., dict[str, Any]] = getattr(self.client, operation)
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(
                self._executor, lambda: method(**params)
            )
        except Exception as exc:
            error = translate(exc, operation, self._backoff)
            if error is exc:
                raise
            raise error from exc
        self._backoff.succeeded()
        return response

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(AttributeError):
            self.client.close()


def build_async_client(settings: Settings, service: str) -> AsyncClient:
    return AsyncClient(
        build_client(settings, service),
        settings.personalize_max_concurrency,
        name=service,
        backoff=Backoff(
            settings.job_backoff_base_seconds, settings.job_backoff_max_seconds
        ),
    )
