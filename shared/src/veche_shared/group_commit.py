"""Group commit: callers that arrive while a store command is in flight share the next one.

Each caller still waits for its own items to be written (nothing is acknowledged before it is
stored), but N concurrent callers cost a few commands instead of N: under load a command's
round trip is exactly when the next callers gather. Used where a write must happen per request
or per send (registration numbers, delivery results) and one command each would make the store,
not the work, the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``flush`` writes the gathered items (in arrival order) and returns one result per item."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._flush = flush
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writing = asyncio.Lock()

    async def submit(self, item: T) -> R:
        return (await self.submit_all([item]))[0]

    async def submit_all(self, items: Sequence[T]) -> list[R]:
        if not items:  # nothing to write: do not queue behind another caller's write
            return []
        loop = asyncio.get_running_loop()
        mine = [(item, loop.create_future()) for item in items]
        self._waiting += mine
        async with self._writing:
            if not all(future.done() for _, future in mine):
                await self._flush_waiting()
        # gather retrieves every future's outcome (no 'exception never retrieved' on failure)
        return list(await asyncio.gather(*(future for _, future in mine)))

    async def _flush_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush returned {len(results)} results for {len(batch)}")
        except Exception as error:
            for _, future in batch:
                future.set_exception(error)
        except BaseException:  # cancelled mid-write: nobody may wait for it for ever
            for _, future in batch:
                future.cancel()
            raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
