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
