"""Ingest keeps each appeal's timeline from the downstream events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from veche_shared.events import Event
from veche_shared.pipeline import BatchConsumer, Item, Publication, store_spans
from veche_shared.settings import ServiceSettings
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_NOTIFIED, APPEALS_ROUTED

from .domain.timeline import timeline_entry
from .storage import IngestStore


def register_handlers(
    broker: KafkaBroker, settings: ServiceSettings, store: IngestStore
) -> list[BatchConsumer[Any]]:
    async def record_timeline(items: Sequence[Item[Event]]) -> Sequence[Publication]:
        with store_spans(items, "insert_many", "timeline", store.db.name):
            await store.add_timeline([timeline_entry(item.event) for item in items])
        return ()

    consumers: list[BatchConsumer[Any]] = [
        BatchConsumer(broker, settings, topic=topic, handler=record_timeline)
        for topic in (APPEALS_CLASSIFIED, APPEALS_ROUTED, APPEALS_NOTIFIED)
    ]
    for consumer in consumers:
        consumer.subscribe()
    return consumers
