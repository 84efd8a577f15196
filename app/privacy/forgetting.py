"""Making the embedded model forget erased users.

The erasure itself deletes every saved model (app/privacy/service.py). Each
worker watches the erasure watermark and, when it moves, retrains at once
under the trainer lease; every other process then loads that model, so an
erased user's interactions leave every replica's model within
`RECLOOP_ERASURE_CHECK_SECONDS` plus one training.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from app.db import Database
from app.privacy.repository import erasure_watermark

log = structlog.get_logger(__name__)


class ErasureWatcher:
    def __init__(
        self,
        database: Database,
        retrain: Callable[[], Awaitable[bool]],
        interval_seconds: float,
    ) -> None:
        self._database = database
        self._retrain = retrain
        self._interval_seconds = interval_seconds
        self.watermark = 0

    async def read_watermark(self) -> int:
        async with self._database.read() as session:
            return await erasure_watermark(session)

    async def start(self) -> None:
        """Note the watermark; call before the model first trains."""
        self.watermark = await self.read_watermark()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval_seconds)
            if stopping.is_set():
                return
            try:
                await self.forget_if_needed()
            except Exception:
                log.exception("privacy.forget_failed")

    async def forget_if_needed(self) -> bool:
        """Retrain if users were erased since the model last trained."""
        current = await self.read_watermark()
        if current <= self.watermark:
            return False
        if not await self._retrain():
            # Another worker holds the trainer lease: try again next time.
            return False
        self.watermark = current
        log.info("privacy.model_retrained_after_erasure", watermark=current)
        return True
