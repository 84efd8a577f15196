"""What a failed Personalize call means for recloop: retry it, or stop."""

import math

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from app.exceptions import RecloopError, ServiceUnavailable
from app.worker.errors import DownstreamUnavailable, PermanentJobError
from app.worker.queue import Backoff

# The downstream's name in job errors and metrics.
PERSONALIZE = "personalize"

# Codes AWS answers for throttling. None is in Personalize's API models, so
# botocore has no exception class for them: they are matched by code.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)
# Codes no retry of the same request can fix: the input or the configuration
# is wrong, and a person must act.
PERMANENT_CODES = frozenset(
    {
        "InvalidInputException",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ValidationException",
    }
)


class PersonalizeError(RecloopError):
    """A call to Amazon Personalize failed."""

    status_code = 502
    code = "BAD_GATEWAY"


class PersonalizeUnavailable(DownstreamUnavailable, ServiceUnavailable):
    """Personalize is throttling, failing (5xx), unreachable or timing out.

    Raised in a job, it is a downstream outage: the job is deferred for at
    least `delay_seconds` and spends no attempt, until
    RECLOOP_JOB_OUTAGE_MAX_HOURS. Raised in a request, it is a 503 whose
    Retry-After is that same pause.
    """

    def __init__(self, message: str, delay_seconds: float = 0.0) -> None:
        # The base classes' initialisers chain with the message alone, so
        # ServiceUnavailable sets a default Retry-After, replaced here.
        super().__init__(PERSONALIZE, message, delay_seconds)
        self.headers = {"Retry-After": str(max(1, math.ceil(delay_seconds)))}


class PersonalizeRejected(PermanentJobError, PersonalizeError):
    """Personalize refused the request; retrying it unchanged cannot succeed.

    As a `PermanentJobError` it dead-letters the job that made the call.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.error_code = code


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(
    exc: Exception, operation: str, backoff: Backoff | None = None
) -> Exception:
    """The recloop error for what botocore raised, naming the operation and cause.

    An outage notes a failure in `backoff` and carries the pause it gives.
    """
    if isinstance(exc, ClientError):
        return _client_error(exc, operation, backoff)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return PersonalizeRejected(
            f"{operation}: {exc}; configure the standard AWS credential chain "
            "and RECLOOP_PERSONALIZE_REGION (or AWS_REGION)",
            code=type(exc).__name__,
        )
    if isinstance(exc, ParamValidationError):
        return PersonalizeRejected(f"{operation}: {exc}", code=type(exc).__name__)
    if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError):
        return _unavailable(f"{operation}: no answer ({type(exc).__name__})", backoff)
    if isinstance(exc, BotoCoreError):
        # Neither an outage nor a refusal: retried with the job's attempts.
        return PersonalizeError(f"{operation}: {type(exc).__name__}: {exc}")
    return exc


def _client_error(
    exc: ClientError, operation: str, backoff: Backoff | None
) -> Exception:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))[:500]
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{operation}: {code or status}: {message}".rstrip(": ")
    if code in THROTTLING_CODES or status >= 500 or status == 429:
        return _unavailable(text, backoff)
    if code in PERMANENT_CODES or 400 <= status < 500:
        return PersonalizeRejected(text, code=code)
    return _unavailable(text, backoff)


def _unavailable(text: str, backoff: Backoff | None) -> PersonalizeUnavailable:
    pause = backoff.failed() if backoff is not None else 0.0
    return PersonalizeUnavailable(f"Personalize unavailable: {text}", pause)
