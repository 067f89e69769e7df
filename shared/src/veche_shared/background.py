"""Periodic background work inside a service process (outbox relays, watchers).

One loop for every such task: run, log a failure by its class (never its data) and try again on
the next tick; start only if the service is not already shutting down; stop by cancelling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, tick: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self._tick = tick
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        # FastStream may run after-startup hooks once a fast shutdown has begun: do not start.
        if not self._stopped and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopped = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception as error:  # store or broker down: the next tick tries again
                log.warning(
                    "background task failed",
                    extra={"task": self.name, "error_class": type(error).__name__},
                )
            await asyncio.sleep(self.interval)
