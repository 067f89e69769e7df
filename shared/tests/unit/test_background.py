"""Background tasks keep ticking through failures and never start once shutdown has begun."""

import asyncio

from veche_shared.background import Periodic


async def test_a_failing_tick_is_retried_on_the_next_interval():
    calls: list[int] = []
    third = asyncio.Event()

    async def tick() -> None:
        calls.append(len(calls))
        if len(calls) == 3:
            third.set()
        if len(calls) == 1:
            raise ConnectionError("store down")

    task = Periodic("t", 0.01, tick)
    await task.start()
    await asyncio.wait_for(third.wait(), timeout=5)
    await task.stop()
    settled = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == settled  # stopped means stopped


async def test_stop_before_start_prevents_the_start():
    calls: list[int] = []

    async def tick() -> None:
        calls.append(1)

    task = Periodic("t", 0.01, tick)
    await task.stop()
    await task.start()
    await asyncio.sleep(0.05)
    assert calls == []
