"""``veche-classify bench --broker N``: the whole service on the real broker and store.

Writes N ``AppealReceivedV1`` events (texts from a corpus file, cycled) into the intake topic
of a fresh namespace *before* the service starts, then starts the classify app in this process
(``create_app`` with that namespace: consumer, model, store, producer) and measures, from the
moment it is up until all N ``AppealClassifiedV1`` events are on the output topic:

* appeals per second (wall clock);
* CPU ms per appeal = CPU time of this process / N (the service plus the small reader that
  counts the outputs; Kafka and the store run in their own processes and are not included).

It prints figures; it is not a test. The namespace's topics and database are removed afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from veche_shared.events import AppealReceivedV1
from veche_shared.mongo import Document
from veche_shared.testing.app_runner import serving
from veche_shared.testing.events import snapshot
from veche_shared.testing.kafka_tools import TopicReader
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED
from veche_shared.topics_cli import ensure_topics

from .settings import ClassifySettings
from .training import read_jsonl


async def run(settings: ClassifySettings, corpus: Path, count: int) -> dict[str, float]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    bench = settings.model_copy(update={"namespace": namespace})
    created = await ensure_topics(bench.kafka_bootstrap, namespace)
    try:
        await _produce(bench, _events(corpus, count))
        return await _measure(bench, count)
    finally:
        await _remove(bench, created)


def _events(corpus: Path, count: int) -> list[AppealReceivedV1]:
    texts = [e.text for e in read_jsonl(corpus)]
    return [
        AppealReceivedV1(
            appeal_id=uuid.uuid4(), appeal=snapshot(text=texts[i % len(texts)], sequence=i + 1)
        )
        for i in range(count)
    ]


async def _produce(settings: ClassifySettings, events: list[AppealReceivedV1]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        topic = settings.topic_name(APPEALS_RECEIVED)
        sent = [await producer.send(topic, e.to_bytes(), key=e.key()) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _measure(settings: ClassifySettings, count: int) -> dict[str, float]:
    from .app import create_app

    app = create_app(settings)  # model load and warm-up are start-up, not per-appeal cost
    output = settings.topic_name(APPEALS_CLASSIFIED)
    async with TopicReader(settings.kafka_bootstrap, output) as reader, serving(app):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await reader.wait_count(count, timeout=max(120.0, count * 0.05))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "appeals": count,
        "seconds": round(wall, 2),
        "appeals_per_s": round(count / wall, 1),
        "cpu_ms_per_appeal": round(cpu * 1000 / count, 2),
    }


async def _remove(settings: ClassifySettings, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongo_url)
    try:
        await client.drop_database(settings.database)
    finally:
        await client.close()
