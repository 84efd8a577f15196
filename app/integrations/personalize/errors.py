"""What a failed Personalize call means for recloop: retry it, or stop."""

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)

from app.exceptions import RecloopError, ServiceUnavailable
from app.worker.errors import PermanentJobError

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


class PersonalizeUnavailable(ServiceUnavailable):
    """Personalize is throttling, failing (5xx) or unreachable: retry later."""


class PersonalizeRejected(PermanentJobError, PersonalizeError):
    """Personalize refused the request; retrying it unchanged cannot succeed.

    As a `PermanentJobError` it dead-letters the job that made the call.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.error_code = code


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: Exception, operation: str) -> Exception:
    """The recloop error for what botocore raised, naming the operation and cause."""
    if isinstance(exc, ClientError):
        return _client_error(exc, operation)
    if isinstance(exc, NoCredentialsError | NoRegionError):
        return PersonalizeRejected(
            f"{operation}: {exc}; configure the standard AWS credential chain "
            "and RECLOOP_PERSONALIZE_REGION (or AWS_REGION)",
            code=type(exc).__name__,
        )
    if isinstance(exc, ConnectionError | HTTPClientError | BotoCoreError):
        return PersonalizeUnavailable(
            f"{operation}: Personalize unreachable ({type(exc).__name__})"
        )
    return exc


def _client_error(exc: ClientError, operation: str) -> Exception:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))[:500]
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{operation}: {code or status}: {message}".rstrip(": ")
    if code in THROTTLING_CODES or status >= 500 or status == 429:
        return PersonalizeUnavailable(text)
    if code in PERMANENT_CODES or 400 <= status < 500:
        return PersonalizeRejected(text, code=code)
    return PersonalizeUnavailable(text)
