"""appeals.routed.v1 -> plan and render notifications -> appeals.notified.v1.

Delivery over SMTP / SMS / webhooks is issue 7; until then messages are rendered and recorded
with status ``recorded`` (visible in the store), which is what the notified event reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from veche_shared.events import (
    AppealNotifiedV1,
    AppealRoutedV1,
    NotificationStatus,
    NotificationV1,
    utc_now,
)
from veche_shared.pipeline import BatchConsumer, Item, Publication, store_spans
from veche_shared.settings import ServiceSettings
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_ROUTED

from .domain.plan import Planned, plan
from .domain.render import Renderer
from .storage import NotifyStore


def notification_document(
    planned: Planned, event: AppealRoutedV1, renderer: Renderer
) -> dict[str, Any]:
    rendered = renderer.render(planned, event)
    return {
        "_id": planned.key(str(event.appeal_id)),
        "appeal_id": str(event.appeal_id),
        "kind": planned.kind.value,
        "recipient_role": planned.role.value,
        "channel": planned.channel,
        "address": planned.address,
        "subject": rendered.subject,
        "body": rendered.body,
        "status": NotificationStatus.RECORDED.value,
        "created_at": utc_now(),
        "source_event_id": str(event.event_id),
    }


def register_handlers(
    broker: KafkaBroker, settings: ServiceSettings, store: NotifyStore, renderer: Renderer
) -> BatchConsumer[AppealRoutedV1]:
    async def notify_batch(items: Sequence[Item[AppealRoutedV1]]) -> Sequence[Publication]:
        documents: list[dict[str, Any]] = []
        outcomes: list[tuple[str, AppealNotifiedV1]] = []
        for item in items:
            planned = plan(item.event)
            documents.extend(notification_document(p, item.event, renderer) for p in planned)
            outcomes.append((str(item.event.event_id), _outcome(item.event, planned)))
            item.span.set_attribute("veche.notifications", len(planned))
        with store_spans(items, "insert_many", "notifications", store.db.name):
            await store.record_notifications(documents)
        with store_spans(items, "insert_many", "outcomes", store.db.name):
            recorded = await store.record_outcomes(outcomes)
        return [
            Publication(APPEALS_NOTIFIED, event, item)
            for item, event in zip(items, recorded, strict=True)
        ]

    consumer = BatchConsumer(
        broker, settings, topic=APPEALS_ROUTED, handler=notify_batch, outputs=[APPEALS_NOTIFIED]
    )
    consumer.subscribe()
    return consumer


def _outcome(event: AppealRoutedV1, planned: Sequence[Planned]) -> AppealNotifiedV1:
    return AppealNotifiedV1(
        appeal_id=event.appeal_id,
        registration_number=event.appeal.registration_number,
        notifications=tuple(
            NotificationV1(
                notification_id=p.key(str(event.appeal_id)),
                kind=p.kind.value,
                recipient_role=p.role,
                channel=p.channel,
                status=NotificationStatus.RECORDED,
            )
            for p in planned
        ),
    )
