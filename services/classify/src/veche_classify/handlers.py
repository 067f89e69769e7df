"""appeals.received.v1 -> classify -> appeals.classified.v1."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from veche_shared.events import AppealClassifiedV1, AppealReceivedV1
from veche_shared.pipeline import BatchConsumer, Item, Publication, store_spans
from veche_shared.settings import ServiceSettings
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

from .domain.baseline import Classifier
from .storage import ClassifyStore


def register_handlers(
    broker: KafkaBroker, settings: ServiceSettings, store: ClassifyStore, classifier: Classifier
) -> BatchConsumer[AppealReceivedV1]:
    async def classify_batch(items: Sequence[Item[AppealReceivedV1]]) -> Sequence[Publication]:
        decisions: list[tuple[str, AppealClassifiedV1]] = []
        for item in items:
            classification = classifier.classify(item.event.appeal)
            item.span.set_attribute("veche.topic", classification.topic)
            item.span.set_attribute("veche.urgency", classification.urgency.value)
            outgoing = AppealClassifiedV1(
                appeal_id=item.event.appeal_id,
                appeal=item.event.appeal,
                classification=classification,
            )
            decisions.append((str(item.event.event_id), outgoing))
        with store_spans(items, "insert_many", "classifications", store.db.name):
            recorded = await store.record(decisions)
        return [
            Publication(APPEALS_CLASSIFIED, event, item)
            for item, event in zip(items, recorded, strict=True)
        ]

    consumer = BatchConsumer(
        broker,
        settings,
        topic=APPEALS_RECEIVED,
        handler=classify_batch,
        outputs=[APPEALS_CLASSIFIED],
    )
    consumer.subscribe()
    return consumer
