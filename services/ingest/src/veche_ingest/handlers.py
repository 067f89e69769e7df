"""Ingest keeps each appeal's timeline from the downstream events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from veche_shared.events import Event
from veche_shared.pipeline import BatchConsumer, Item, Publication
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_NOTIFIED, APPEALS_ROUTED

from .domain.timeline import timeline_entry
from .settings import IngestSettings
from .storage import IngestStore

TIMELINE_SPAN = "appeal timeline process"


def register_handlers(
    broker: KafkaBroker, settings: IngestSettings, store: IngestStore
) -> list[BatchConsumer[Any]]:
    """One subscriber for the three downstream topics: the timeline is a projection, not a hop
    of the pipeline, so it gathers for longer and an appeal's classified, routed and notified
    events that arrive together cost one status write instead of three."""

    async def record_timeline(items: Sequence[Item[Event]]) -> Sequence[Publication]:
        await store.add_timeline([timeline_entry(item.event) for item in items])
        return ()

    consumer: BatchConsumer[Any] = BatchConsumer(
        broker,
        settings,
        topic=(APPEALS_CLASSIFIED, APPEALS_ROUTED, APPEALS_NOTIFIED),
        handler=record_timeline,
        gather_ms=settings.timeline_gather_ms,
        # a projection, off the appeals' path: one span a batch, linked to the appeals' traces
        trace_batch_as=TIMELINE_SPAN,
    )
    consumer.subscribe()
    return [consumer]
