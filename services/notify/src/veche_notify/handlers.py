"""appeals.routed.v1 and appeals.deadline.v1 → plan, record, send → appeals.notified.v1.

Per batch: plan every notification, insert the new ones as ``pending`` (a redelivered event
finds its keys taken), let the deliverer bring each to a final state, dead-letter the ones that
failed for good (original record + reason), and publish one ``AppealNotifiedV1`` per incoming
event with the status of each of its notifications (recorded once, republished unchanged).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from veche_shared.events import (
    AppealAnsweredV1,
    AppealDeadlineV1,
    AppealNotifiedV1,
    AppealRoutedV1,
    Event,
    NotificationStatus,
    NotificationV1,
    RecipientRole,
    utc_now,
)
from veche_shared.kafka import dead_letter_headers
from veche_shared.mongo import Document
from veche_shared.pipeline import (
    BatchConsumer,
    Handler,
    Item,
    Publication,
    store_events,
)
from veche_shared.topics import (
    APPEALS_ANSWERED,
    APPEALS_DEADLINE,
    APPEALS_NOTIFIED,
    APPEALS_ROUTED,
    Topic,
)

from .delivery import Deliverer
from .domain.plan import Planned, Subscription, plan_answered, plan_deadline, plan_routed
from .domain.render import Renderer
from .settings import NotifySettings
from .storage import NotifyStore

E = TypeVar("E", bound=Event)
Planner = Callable[[E, Sequence[Subscription]], list[Planned]]
NOTIFICATION_HEADER = "x-veche-notification-id"
FINAL_FAILURES = {NotificationStatus.FAILED.value, NotificationStatus.GAVE_UP.value}


class NotificationFailedError(Exception):
    """Dead-letter cause: the channel refused the message for good (e.g. SMTP 550, HTTP 404)."""


class NotificationGaveUpError(Exception):
    """Dead-letter cause: every retry of a transient failure failed."""


def notification_document(planned: Planned, renderer: Renderer, source: Event) -> dict[str, Any]:
    rendered = renderer.render(planned)
    return {
        "_id": planned.key,
        "appeal_id": planned.appeal_id,
        "kind": planned.kind.value,
        "occasion": planned.occasion,
        "recipient_role": planned.role.value,
        "recipient": planned.recipient,
        "channel": planned.channel.value,
        "address": planned.address,
        "subject": rendered.subject,
        "body": rendered.body,
        "status": "pending",
        "attempts": 0,
        "created_at": utc_now(),
        "source_event_id": str(source.event_id),
    }


def notification_summary(document: Document) -> NotificationV1:
    status = document["status"]
    known = {s.value for s in NotificationStatus}
    return NotificationV1(
        notification_id=document["_id"],
        kind=document["kind"],
        recipient_role=RecipientRole(document["recipient_role"]),
        channel=document["channel"],
        status=NotificationStatus(status) if status in known else NotificationStatus.RECORDED,
        reason=document.get("reason"),
        attempts=document.get("attempts"),
        sent_at=document.get("sent_at"),
    )


class NotifyStage:
    def __init__(
        self,
        broker: KafkaBroker,
        settings: NotifySettings,
        store: NotifyStore,
        renderer: Renderer,
        deliverer: Deliverer,
    ) -> None:
        self._broker = broker
        self._settings = settings
        self._store = store
        self._renderer = renderer
        self._deliverer = deliverer

    def handler(self, topic: Topic, planner: Planner[E], *, always_report: bool) -> Handler[E]:
        dlq = self._broker.publisher(self._settings.topic_name(topic.dlq))

        async def notify_batch(items: Sequence[Item[E]]) -> Sequence[Publication]:
            subscriptions, secrets = await self._subscriptions()
            planned = [planner(item.event, subscriptions) for item in items]
            run = uuid.uuid4().hex
            documents = self._deliverer.claim_on_insert(
                [
                    notification_document(p, self._renderer, item.event)
                    for item, plans in zip(items, planned, strict=True)
                    for p in plans
                ],
                run,
                utc_now(),
            )
            with store_events(items, "insert_many", "notifications", self._store.db.name):
                existing = await self._store.record_notifications(documents)
            keys = [p.key for plans in planned for p in plans]
            contexts = {
                p.key: item.context
                for item, plans in zip(items, planned, strict=True)
                for p in plans
            }
            # what was just inserted is its own current state; only redelivered keys are read
            current = {d["_id"]: d for d in documents if d["_id"] not in existing}
            current |= await self._store.load(existing)
            final = await self._deliverer.settle(
                list(current.values()), secrets, contexts, claimed_by=run
            )
            # only keys another consumer claimed first are read back
            final |= await self._store.load(k for k in keys if k not in final)
            await self._dead_letter(items, planned, final, dlq)
            return await self._report(items, planned, final, always_report)

        return notify_batch

    async def _subscriptions(self) -> tuple[list[Subscription], dict[str, str]]:
        documents = await self._store.current_subscriptions()
        subscriptions = [
            Subscription(d["_id"], d["url"], frozenset(d["event_types"])) for d in documents
        ]
        return subscriptions, {d["_id"]: d["secret"] for d in documents}

    async def _dead_letter(
        self,
        items: Sequence[Item[E]],
        planned: Sequence[Sequence[Planned]],
        final: dict[str, Document],
        dlq: Any,
    ) -> None:
        """One dead letter per notification that failed for good: the original record (so it
        can be replayed) and the reason. At least once: marked only after the broker acks."""
        done: list[str] = []
        for item, plans in zip(items, planned, strict=True):
            for p in plans:
                document = final.get(p.key)
                if document is None or p.key in done:
                    continue
                if document["status"] not in FINAL_FAILURES or document.get("dead_lettered"):
                    continue
                error_type = (
                    NotificationGaveUpError
                    if document["status"] == NotificationStatus.GAVE_UP.value
                    else NotificationFailedError
                )
                error = error_type(
                    f"{document['channel']} {document['kind']}: {document.get('reason')}"
                )
                headers = dead_letter_headers(
                    item.record,
                    error,
                    attempts=document.get("attempts") or 0,
                    group=self._settings.service_name,
                )
                headers[NOTIFICATION_HEADER] = p.key
                await dlq.publish(item.record.value or b"", key=item.record.key, headers=headers)
                done.append(p.key)
        await self._store.mark_dead_lettered(done)

    async def _report(
        self,
        items: Sequence[Item[E]],
        planned: Sequence[Sequence[Planned]],
        final: dict[str, Document],
        always_report: bool,
    ) -> list[Publication]:
        outcomes: list[tuple[str, AppealNotifiedV1]] = []
        reported: list[Item[E]] = []
        for item, plans in zip(items, planned, strict=True):
            if not plans and not always_report:
                continue
            item.span.set_attribute("veche.notifications", len(plans))
            outcomes.append((str(item.event.event_id), _outcome(item.event, plans, final)))
            reported.append(item)
        with store_events(reported, "insert_many", "outcomes", self._store.db.name):
            recorded = await self._store.record_outcomes(outcomes)
        return [
            Publication(APPEALS_NOTIFIED, event, item)
            for item, event in zip(reported, recorded, strict=True)
        ]


def _outcome(
    event: Event, plans: Sequence[Planned], final: dict[str, Document]
) -> AppealNotifiedV1:
    if not isinstance(event, AppealRoutedV1 | AppealDeadlineV1 | AppealAnsweredV1):
        raise TypeError(f"notify does not consume {type(event).__name__}")
    registration_number = event.appeal.registration_number
    seen: set[str] = set()
    notifications = []
    for p in plans:
        if p.key not in seen and p.key in final:
            seen.add(p.key)
            notifications.append(notification_summary(final[p.key]))
    return AppealNotifiedV1(
        appeal_id=event.appeal_id,
        registration_number=registration_number,
        notifications=tuple(notifications),
        cause=event.schema_name,
        cause_event_id=str(event.event_id),
    )


def register_handlers(
    broker: KafkaBroker,
    settings: NotifySettings,
    store: NotifyStore,
    renderer: Renderer,
    deliverer: Deliverer,
) -> NotifyStage:
    stage = NotifyStage(broker, settings, store, renderer, deliverer)
    handlers: dict[Topic, Handler[Any]] = {
        APPEALS_ROUTED: stage.handler(APPEALS_ROUTED, plan_routed, always_report=True),
        APPEALS_DEADLINE: stage.handler(APPEALS_DEADLINE, plan_deadline, always_report=False),
        APPEALS_ANSWERED: stage.handler(APPEALS_ANSWERED, plan_answered, always_report=False),
    }
    BatchConsumer.per_topic(broker, settings, handlers, outputs=[APPEALS_NOTIFIED]).subscribe()
    return stage
