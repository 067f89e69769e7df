import asyncio

import pytest
from veche_shared.group_commit import GroupCommit


class Store:
    def __init__(self, fail_on: object = None) -> None:
        self.commands: list[list[int]] = []
        self.fail_on = fail_on

    async def write(self, items: list[int]) -> list[int]:
        self.commands.append(items)
        await asyncio.sleep(0.01)  # the round trip during which the next callers gather
        if self.fail_on in items:
            raise OSError("store unavailable")
        return [item * 10 for item in items]


async def test_callers_arriving_during_a_write_share_the_next_command():
    store = Store()
    group = GroupCommit(store.write)

    results = await asyncio.gather(*(group.submit(n) for n in range(20)))

    assert results == [n * 10 for n in range(20)]  # each caller gets its own item's result
    assert len(store.commands) == 2  # the first alone, the 19 that gathered meanwhile together
    assert sorted(n for command in store.commands for n in command) == list(range(20))


async def test_a_failed_write_fails_every_caller_in_it_and_the_next_write_proceeds():
    store = Store(fail_on=3)
    group = GroupCommit(store.write)

    outcomes = await asyncio.gather(*(group.submit(n) for n in range(5)), return_exceptions=True)
    assert outcomes[0] == 0
    assert all(isinstance(o, OSError) for o in outcomes[1:])  # 1–4 shared the failed command
    assert await group.submit(7) == 70


async def test_submit_all_returns_results_in_order():
    group = GroupCommit(Store().write)
    assert await group.submit_all([3, 1, 2]) == [30, 10, 20]


async def test_a_flush_that_loses_results_is_an_error_not_a_silent_gap():
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    with pytest.raises(RuntimeError, match="2 results for 3"):
        await GroupCommit(short).submit_all([1, 2, 3])


async def test_nothing_to_write_returns_at_once_even_while_a_write_is_in_flight():
    store = Store()
    group = GroupCommit(store.write)
    in_flight = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)  # the first write has started its round trip

    assert await asyncio.wait_for(group.submit_all([]), timeout=0.005) == []
    assert await in_flight == 10
    assert store.commands == [[1]]


async def test_with_a_linger_items_arriving_within_it_share_the_first_write():
    store = Store()
    group = GroupCommit(store.write, linger_s=0.02)

    async def later(n: int, delay: float) -> list[int]:
        await asyncio.sleep(delay)
        return await group.submit_all([n], linger=True)

    results = await asyncio.gather(*(later(n, n * 0.002) for n in range(5)))

    assert results == [[0], [10], [20], [30], [40]]
    assert store.commands == [[0, 1, 2, 3, 4]]  # without the linger: [0], then [1, 2, 3, 4]


async def test_a_caller_that_does_not_linger_writes_at_once_for_those_lingering():
    store = Store()
    group = GroupCommit(store.write, linger_s=10.0)  # a moment far longer than the test
    lingering = [asyncio.create_task(group.submit_all([n], linger=True)) for n in range(3)]
    await asyncio.sleep(0.001)

    last = await asyncio.wait_for(group.submit_all([3]), timeout=0.5)

    assert last == [30]
    assert await asyncio.wait_for(asyncio.gather(*lingering), timeout=0.5) == [[0], [10], [20]]
    assert store.commands == [[0, 1, 2, 3]]


async def test_a_caller_cancelled_during_the_linger_does_not_hold_up_the_others():
    store = Store()
    group = GroupCommit(store.write, linger_s=0.02)
    first = asyncio.create_task(group.submit_all([1], linger=True))
    second = asyncio.create_task(group.submit_all([2], linger=True))
    await asyncio.sleep(0.005)
    first.cancel()

    assert await asyncio.wait_for(second, timeout=0.5) == [20]
    assert [2] in store.commands or [1, 2] in store.commands
