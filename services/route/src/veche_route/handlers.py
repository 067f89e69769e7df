"""appeals.classified.v1 -> territory, competence, deadlines -> appeals.routed.v1;
appeals.answered.v1 -> the appeal's terms are no longer watched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from veche_shared.events import AppealAnsweredV1, AppealClassifiedV1, AppealRoutedV1
from veche_shared.pipeline import (
    BatchConsumer,
    Handler,
    Item,
    Publication,
    store_events,
)
from veche_shared.settings import ServiceSettings
from veche_shared.topics import APPEALS_ANSWERED, APPEALS_CLASSIFIED, APPEALS_ROUTED, Topic

from .domain.routing import Router
from .rulebook import RuleSource
from .storage import RouteStore


def register_handlers(
    broker: KafkaBroker,
    settings: ServiceSettings,
    store: RouteStore,
    router: Router,
    rules: RuleSource,
) -> BatchConsumer[Any]:
    handlers: dict[Topic, Handler[Any]] = {
        APPEALS_CLASSIFIED: routing_handler(store, router, rules),
        APPEALS_ANSWERED: closing_handler(store),
    }
    consumer = BatchConsumer.per_topic(broker, settings, handlers, outputs=[APPEALS_ROUTED])
    consumer.subscribe()
    return consumer


def routing_handler(
    store: RouteStore, router: Router, rules: RuleSource
) -> Handler[AppealClassifiedV1]:
    async def route_batch(items: Sequence[Item[AppealClassifiedV1]]) -> Sequence[Publication]:
        book = await rules.refresh()  # a rule change acknowledged anywhere applies from here on
        decisions: list[tuple[str, AppealRoutedV1]] = []
        for item in items:
            routed = router.route(item.event, book)
            item.span.set_attribute("veche.territory", routed.territory.code)
            item.span.set_attribute("veche.rule_id", routed.rule_id)
            item.span.set_attribute("veche.rules_version", book.version)
            item.span.set_attribute("veche.assignments", len(routed.assignments))
            decisions.append((str(item.event.event_id), routed))
        with store_events(items, "insert_many", "routings", store.db.name):
            recorded = await store.record(decisions)
        ids = [routing_id for routing_id, _ in decisions]
        with store_events(items, "insert_many", "assignments", store.db.name):
            await store.record_assignments(list(zip(ids, recorded, strict=True)))
        return [
            Publication(APPEALS_ROUTED, event, item)
            for item, event in zip(items, recorded, strict=True)
        ]

    return route_batch


def closing_handler(store: RouteStore) -> Handler[AppealAnsweredV1]:
    async def close_batch(items: Sequence[Item[AppealAnsweredV1]]) -> Sequence[Publication]:
        answers = [(str(item.event.appeal_id), item.event.answered_at) for item in items]
        with store_events(items, "update_many", "assignments", store.db.name):
            await store.close_appeals(answers)
        return []

    return close_batch
