class PermanentJobError(Exception):
    """The job cannot succeed by retrying: it goes dead at once with this reason."""


class RetryJobAfter(Exception):
    """The job should be retried no sooner than `delay_seconds` from now."""

    def __init__(self, message: str, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class DeferJob(Exception):
    """Not a failure: run the job again after `delay_seconds`, without using up
    an attempt (the service asked recloop to wait, as on an HTTP 429)."""

    def __init__(self, message: str, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds
