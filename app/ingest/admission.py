"""A bound on ingest requests in flight: past it, senders are told to retry.

Answering 429 with a small integer Retry-After at once is better for
everyone than queueing without bound: the sender retries (mParticle's own
SDK blocks its whole process until Retry-After passes, so it stays small)
and the requests already in flight keep their latency.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from app.exceptions import TooManyRequests


class InFlightLimit:
    """Counts requests holding a slot; one event loop, so no lock is needed."""

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        self.in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.in_flight >= self.limit:
            raise TooManyRequests(
                f"{self.in_flight} ingest requests are in flight, the most "
                f"taken at once; retry after {self.retry_after_seconds} s",
                self.retry_after_seconds,
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
