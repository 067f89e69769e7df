"""appeals.received.v1 -> classify -> appeals.classified.v1 (+ incidents, review queue)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from faststream.kafka import KafkaBroker
from veche_shared.events import AppealClassifiedV1, AppealReceivedV1
from veche_shared.pipeline import BatchConsumer, Item, Publication, store_events
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

from .domain.incidents import Candidate, content_lemmas, match, place_key
from .domain.triage import Decision, Triage
from .settings import ClassifySettings
from .storage import ClassifyStore


def register_handlers(
    broker: KafkaBroker, settings: ClassifySettings, store: ClassifyStore, triage: Triage
) -> BatchConsumer[AppealReceivedV1]:
    window = timedelta(hours=settings.incident_window_hours)

    async def classify_batch(items: Sequence[Item[AppealReceivedV1]]) -> Sequence[Publication]:
        decisions = triage.decide([item.event.appeal for item in items])
        members = [_member(item.event, d) for item, d in zip(items, decisions, strict=True)]
        places = [f"{m.topic}|{m.place_key}" for m in members if m is not None]
        with store_events(items, "find", "incident_places", store.db.name):
            # read candidates -> link -> store members under a lease per topic+place, so two
            # consumers never both miss each other's duplicate and open two incidents
            async with store.place_locks(places):
                stored = await _link_incidents(store, members, window, settings.incident_similarity)
                await store.add_incident_members([m for m in members if m is not None], stored)
        outgoing: list[tuple[str, AppealClassifiedV1]] = []
        for item, decision, member in zip(items, decisions, members, strict=True):
            classification = decision.classification.model_copy(
                update={"incident_id": member.incident_id if member else None}
            )
            item.span.set_attribute("veche.topic", classification.topic)
            item.span.set_attribute("veche.urgency", classification.urgency.value)
            item.span.set_attribute("veche.needs_review", classification.needs_review)
            event = AppealClassifiedV1(
                appeal_id=item.event.appeal_id,
                appeal=item.event.appeal,
                classification=classification,
            )
            outgoing.append((str(item.event.event_id), event))
        with store_events(items, "insert_many", "classifications", store.db.name):
            recorded = await store.record(outgoing, [m.place_key if m else None for m in members])
            await store.enqueue_review([e for e in recorded if e.classification.needs_review])
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


def _member(event: AppealReceivedV1, decision: Decision) -> Candidate | None:
    key = place_key(decision.mentions, event.appeal.location.address)
    if key is None:  # no place, no incident: "the same problem" needs the same place
        return None
    return Candidate(
        appeal_id=str(event.appeal_id),
        incident_id=str(event.appeal_id),
        topic=decision.classification.topic,
        place_key=key,
        lemmas=content_lemmas(event.appeal.text),
        at=event.appeal.registered_at,
    )


async def _link_incidents(
    store: ClassifyStore,
    members: list[Candidate | None],
    window: timedelta,
    threshold: float,
) -> list[Candidate]:
    """Give each member the incident of its nearest earlier duplicate (stored or in the batch).

    Returns the stored members the batch looked at (those still inside the window).
    """
    present = [m for m in members if m is not None]
    if not present:
        return []
    since = min(m.at for m in present) - window
    stored = await store.incident_candidates([f"{m.topic}|{m.place_key}" for m in present], since)
    earlier = list(stored)
    known = {c.appeal_id: c for c in earlier}
    for index, member in enumerate(members):
        if member is None:
            continue
        if member.appeal_id in known:  # redelivered: keep the incident it got the first time
            members[index] = known[member.appeal_id]
            continue
        found = match(member, earlier, threshold=threshold, window=window)
        if found is not None:
            member = dataclasses.replace(member, incident_id=found.incident_id)
            members[index] = member
        earlier.append(member)
    return stored
