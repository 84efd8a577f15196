class PermanentJobError(Exception):
    """The job cannot succeed by retrying: it goes dead at once with this reason."""


class RetryJobAfter(Exception):
    """The job should be retried no sooner than `delay_seconds` from now."""

    def __init__(self, message: str, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class DownstreamUnavailable(RetryJobAfter):
    """A downstream (mParticle, Personalize) timed out, failed or throttled.

    The job is retried with backoff, at least `delay_seconds` later, and spends
    no attempts: an outage of any length up to `RECLOOP_JOB_OUTAGE_MAX_HOURS`
    ends with everything delivered rather than dead.
    """

    def __init__(
        self, target: str, message: str, delay_seconds: float | None = None
    ) -> None:
        super().__init__(message, delay_seconds or 0.0)
        self.target = target
