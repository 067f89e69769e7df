"""Small, real Kafka helpers for tests: produce raw records, collect a topic's records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient


async def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def topic_names(bootstrap: str) -> set[str]:
    """Every topic the broker lists now (creation and deletion reach the listing a moment
    after the call returns: poll with :func:`until`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


class TopicReader:
    """Reads a topic from the beginning, outside any service's consumer group."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        self.records: list[ConsumerRecord[Any, Any]] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def wait_for(
        self,
        predicate: Callable[[list[ConsumerRecord[Any, Any]]], bool],
        timeout: float = 30.0,
    ) -> list[ConsumerRecord[Any, Any]]:
        deadline = time.monotonic() + timeout
        while not predicate(self.records):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met; {len(self.records)} records read")
            batches = await self._consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batches.values():
                self.records.extend(records)
        return self.records

    async def wait_count(self, count: int, timeout: float = 30.0) -> list[ConsumerRecord[Any, Any]]:
        return await self.wait_for(lambda records: len(records) >= count, timeout)

    async def settle(self, quiet: float = 2.0) -> list[ConsumerRecord[Any, Any]]:
        """Keep reading until nothing new arrives for ``quiet`` seconds (to prove absence)."""
        while True:
            batches = await self._consumer.getmany(timeout_ms=int(quiet * 1000))
            if not batches:
                return self.records
            for records in batches.values():
                self.records.extend(records)


async def until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll an async or sync check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
