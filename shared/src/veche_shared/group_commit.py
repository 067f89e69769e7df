"""Group commit: callers that arrive while a store command is in flight share the next one.

Each caller still waits for its own items to be written (nothing is acknowledged before it is
stored), but N concurrent callers cost a few commands instead of N: under load a command's
round trip is exactly when the next callers gather. Used where a write must happen per request
or per send (registration numbers, delivery results) and one command each would make the store,
not the work, the limit.

Where items arrive spread out (one result per letter, as each send ends), a caller that knows
more are coming may linger: it waits up to ``linger_s`` for the others, so results that end
within that moment share one command instead of one command for every one or two of them. A
caller that does not linger (the last one expected) writes at once, for everyone waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``flush`` writes the gathered items (in arrival order) and returns one result per item."""

    def __init__(
        self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, linger_s: float = 0.0
    ) -> None:
        self._flush = flush
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writing = asyncio.Lock()
        self._linger_s = linger_s
        self._gathering: asyncio.Future[None] | None = None  # resolved: the moment is over

    async def submit(self, item: T) -> R:
        return (await self.submit_all([item]))[0]

    async def submit_all(self, items: Sequence[T], *, linger: bool = False) -> list[R]:
        """Write ``items`` with whatever else is waiting; with ``linger``, first wait up to
        ``linger_s`` (less if another caller writes meanwhile) for more to arrive."""
        if not items:  # nothing to write: do not queue behind another caller's write
            return []
        loop = asyncio.get_running_loop()
        mine = [(item, loop.create_future()) for item in items]
        self._waiting += mine
        if linger and self._linger_s > 0:
            await self._gathered(loop)
        async with self._writing:
            if not all(future.done() for _, future in mine):
                await self._flush_waiting()
        # gather retrieves every future's outcome (no 'exception never retrieved' on failure)
        return list(await asyncio.gather(*(future for _, future in mine)))

    async def _gathered(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait out the current gathering moment, opening one if none is open. It ends when
        its time is up or when a write takes the waiting items, whichever comes first."""
        if self._gathering is None:
            self._gathering = loop.create_future()
            loop.call_later(self._linger_s, self._end_gathering, self._gathering)
        # shielded: a caller cancelled while waiting does not end the others' moment
        await asyncio.shield(self._gathering)

    def _end_gathering(self, gathering: asyncio.Future[None] | None = None) -> None:
        gathering = gathering or self._gathering
        if gathering is None:
            return
        if not gathering.done():
            gathering.set_result(None)
        if self._gathering is gathering:
            self._gathering = None

    async def _flush_waiting(self) -> None:
        self._end_gathering()  # this write takes everyone who was lingering
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
