"""When write-back may send: a rate below mParticle's, and pauses after 429s
and failures. One gate per process, shared by every send it makes.

Write-back runs in a worker lane of its own, so waiting here never delays
ingest or the refresh of recommendations.
"""

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from app.worker.queue import Backoff

# The window mParticle's batches-per-second limit is measured over.
WINDOW_SECONDS = 1.0
# A Retry-After longer than this is treated as this long: after it, one
# request finds out whether mParticle still wants recloop to wait.
MAX_PAUSE_SECONDS = 900.0
IN_FLIGHT_POLL_SECONDS = 0.02


class SendRate:
    """At most `max_batches` batches sent in any one-second window.

    A token bucket (and the libraries that implement one) lets a full bucket
    out at once and then the refill, up to twice the rate in one window; a
    log of the last second's sends never exceeds it. A send counts from when
    it starts until a second after its answer came back: mParticle saw it
    somewhere in between, so its window never holds more than this one.
    Waiters go in turn.
    """

    def __init__(
        self, max_batches: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_batches = max_batches
        self._clock = clock
        # [finished at (inf while in flight), batches], oldest first.
        self._sent: deque[list[float]] = deque()
        self._turn = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def sending(self, batches: int) -> AsyncIterator[None]:
        """Wait for room for `batches`, then hold it while they are sent."""
        if batches > self.max_batches:
            raise ValueError(
                f"{batches} batches exceed the rate of {self.max_batches} a second"
            )
        entry = [math.inf, float(batches)]
        async with self._turn:
            # Waiting for time to pass, not for an event: nothing else frees room.
            while (wait := self.wait_seconds(batches)) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            self._sent.append(entry)
        try:
            yield
        finally:
            entry[0] = self._clock()

    def wait_seconds(self, batches: int) -> float:
        """How long a send of `batches` would wait for room now."""
        now = self._clock()
        while self._sent and self._sent[0][0] <= now - WINDOW_SECONDS:
            self._sent.popleft()
        if sum(n for _, n in self._sent) + batches <= self.max_batches:
            return 0.0
        oldest = self._sent[0][0]
        # A send still in flight frees its room only after its answer.
        return (
            IN_FLIGHT_POLL_SECONDS
            if oldest == math.inf
            else oldest + WINDOW_SECONDS - now
        )


class WritebackGate:
    """The send rate, and whether write-back is paused (and until when)."""

    def __init__(
        self,
        max_batches_per_second: int,
        backoff_base_seconds: float,
        backoff_max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = SendRate(max_batches_per_second, clock)
        self._backoff = Backoff(backoff_base_seconds, backoff_max_seconds, clock)
        self._clock = clock
        self._paused_until = 0.0

    def paused_for(self) -> float:
        """Seconds until write-back may send again; 0 when it may now."""
        return max(0.0, self._paused_until - self._clock())

    def throttled(self, retry_after_seconds: float | None) -> float:
        """mParticle answered 429: pause as it says, else back off; the pause."""
        if retry_after_seconds is None:
            return self.failed()
        return self._pause(min(retry_after_seconds, MAX_PAUSE_SECONDS))

    def failed(self) -> float:
        """A 5xx or no answer: back off, longer each time in a row; the pause."""
        return self._pause(self._backoff.failed())

    def succeeded(self) -> None:
        self._backoff.succeeded()

    def _pause(self, seconds: float) -> float:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        return self.paused_for()
