"""The batch poll FastStream's subscriber loop calls: no pause after a poll that waited."""

import asyncio
from types import SimpleNamespace

import anyio
from faststream.kafka.subscriber.usecase import BatchSubscriber
from veche_shared import kafka


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Consumer:
    """getmany that waits ``waits`` seconds (on the fake clock), then returns ``polled``."""

    def __init__(self, clock: Clock, waits: float, polled: dict) -> None:
        self.clock, self.waits, self.polled = clock, waits, polled

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict:
        self.clock.now += self.waits
        return self.polled


def poll(monkeypatch, waits: float, polled: dict) -> tuple[tuple, Clock]:
    clock = Clock()
    monkeypatch.setattr(kafka, "time", clock)
    monkeypatch.setattr(kafka, "asyncio", clock)
    monkeypatch.setattr(anyio, "sleep", clock.sleep)  # where FastStream's own poll pauses
    kafka.poll_without_pauses()
    subscriber = SimpleNamespace(batch_timeout_ms=50, max_records=10)
    consumer = Consumer(clock, waits, polled)
    return asyncio.run(BatchSubscriber.get_msg(subscriber, consumer)), clock  # type: ignore[arg-type]


def test_an_empty_poll_that_waited_its_timeout_is_followed_by_the_next_poll_at_once(monkeypatch):
    batch, clock = poll(monkeypatch, waits=0.05, polled={})
    assert batch == ()
    assert clock.slept == []


def test_an_empty_poll_that_returned_at_once_waits_out_the_timeout_instead_of_spinning(
    monkeypatch,
):
    batch, clock = poll(monkeypatch, waits=0.0, polled={})
    assert batch == ()
    assert clock.slept == [0.05]


def test_records_of_every_partition_come_back_as_one_batch(monkeypatch):
    batch, clock = poll(monkeypatch, waits=0.01, polled={"p0": ["a", "b"], "p1": ["c"]})
    assert batch == ("a", "b", "c")
    assert clock.slept == []


def test_the_replaced_poll_reads_attributes_the_subscriber_still_has():
    """Guards a FastStream upgrade: the replacement relies on these two attributes."""
    assert {"batch_timeout_ms", "max_records"} <= set(BatchSubscriber.__slots__)
