"""Classify's documents (insert-mostly, ``_id`` = natural key).

* ``classifications`` — one per incoming event (``_id`` = its event id); an appeal's incident
  membership is its event's ``incident_id`` with the ``place_key`` beside it (indexed with
  ``at``, for audit). Until 2026-11 each member was also a document of ``incident_members``,
  written per batch and never read: one insert of ~6 per classify batch, gone;
* ``incident_places`` — the recent members of one topic at one place (``_id`` = ``topic|place``,
  the lease key): what linking reads, by ``_id``, so no query ever scans the members (FerretDB
  answers only ``_id`` lookups from an index). Rewritten only under that place's lease;
* ``review`` — low-confidence decisions waiting for an operator (``_id`` = appeal id);
* ``feedback`` — operator corrections, kept as training data (``_id`` = correction id);
* ``incident_locks`` — short leases on one topic + place while a consumer links incidents
  there (``_id`` = the place, claimed by a unique insert: FerretDB has no atomic
  find-and-modify under concurrency, a duplicate ``_id`` is the one thing it refuses reliably).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealClassifiedV1, utc_now
from veche_shared.mongo import Document, chunks, insert_new, record_events_once

from .domain.incidents import Candidate, retained

# the members kept per topic and place (see domain.incidents.retained)
MAX_PLACE_MEMBERS = 40
MEMBERS_PER_INCIDENT = 5


class ClassifyStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.classifications = self.db["classifications"]
        self.places = self.db["incident_places"]
        self.review = self.db["review"]
        self.feedback = self.db["feedback"]
        self.locks = self.db["incident_locks"]

    async def create_indexes(self) -> None:
        await self.classifications.create_index([("appeal_id", ASCENDING)])
        await self.classifications.create_index([("place_key", ASCENDING), ("at", ASCENDING)])
        await self.review.create_index([("status", ASCENDING), ("at", ASCENDING)])

    async def record(
        self,
        decisions: Sequence[tuple[str, AppealClassifiedV1]],
        places: Sequence[str | None] = (),
    ) -> list[AppealClassifiedV1]:
        """Store each decision once; return the events as first recorded (for republishing).

        ``places`` (aligned with ``decisions`` when given) are the place keys of the incidents the
        appeals joined."""
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "topic": event.classification.topic,
                "urgency": event.classification.urgency.value,
                "confidence": event.classification.confidence,
                "classifier": event.classification.classifier,
                "at": event.occurred_at,
                "event": event.stored(),
            }
            | ({"place_key": place} if place else {})
            for (source_event_id, event), place in zip(
                decisions, places or [None] * len(decisions), strict=True
            )
        ]
        return await record_events_once(
            self.classifications, documents, [event for _, event in decisions]
        )

    async def latest(self, appeal_id: str) -> AppealClassifiedV1 | None:
        cursor = self.classifications.find({"appeal_id": appeal_id}).sort("at", DESCENDING)
        async for document in cursor.limit(1):
            return AppealClassifiedV1.from_stored(document["event"])
        return None

    # incidents ----------------------------------------------------------------------------
    async def incident_candidates(self, places: Sequence[str], since: datetime) -> list[Candidate]:
        """The members registered since ``since`` at each ``topic|place``."""
        return [m for m in await self._place_members(places) if m.at >= since]

    async def _place_members(self, places: Sequence[str]) -> list[Candidate]:
        if not places:
            return []
        cursor = self.places.find({"_id": {"$in": sorted(set(places))}})
        return [
            _candidate(doc["topic"], doc["place_key"], m)
            async for doc in cursor
            for m in doc["members"]
        ]

    @asynccontextmanager
    async def place_locks(
        self, keys: Sequence[str], *, lease_s: float = 30.0, wait_s: float = 20.0
    ) -> AsyncIterator[None]:
        """Hold every key (topic|place) exclusively: concurrent consumers link one place in turn.

        A lease left by a crashed consumer is taken over once it expires. Not getting the
        keys within ``wait_s`` raises ``TimeoutError`` (retryable: the batch is retried).
        """
        owner = uuid.uuid4().hex
        wanted = sorted(set(keys))
        held: list[str] = []
        try:
            deadline = asyncio.get_running_loop().time() + wait_s
            while missing := [k for k in wanted if k not in held]:
                now = utc_now()
                expires = now + timedelta(seconds=lease_s)
                taken = await insert_new(
                    self.locks, [{"_id": k, "owner": owner, "expires": expires} for k in missing]
                )
                held += [k for k in missing if k not in taken]
                if not taken:
                    break
                await self.locks.delete_many({"_id": {"$in": list(taken)}, "expires": {"$lt": now}})
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{len(taken)} incident places stayed locked")
                await asyncio.sleep(0.05)
            yield
        finally:
            if held:
                await self.locks.delete_many({"_id": {"$in": held}, "owner": owner})

    async def add_incident_members(
        self, members: Sequence[Candidate], stored: Sequence[Candidate]
    ) -> None:
        """Fold each member into its place's recent members: ``stored`` are the place members
        the caller read (inside the window), so nothing is read twice. The caller holds the
        places' leases. (The membership itself is recorded with the classification.)"""
        if not members:
            return
        fresh: dict[str, list[Candidate]] = {}
        for member in members:
            fresh.setdefault(_place(member), []).append(member)
        by_place: dict[str, list[Candidate]] = {}
        for member in stored:
            by_place.setdefault(_place(member), []).append(member)
        updates = []
        for key, added in fresh.items():
            added_ids = {m.appeal_id for m in added}
            kept = [m for m in by_place.get(key, []) if m.appeal_id not in added_ids]
            recent = retained(
                kept + added, per_incident=MEMBERS_PER_INCIDENT, limit=MAX_PLACE_MEMBERS
            )
            document = {
                "topic": added[0].topic,
                "place_key": added[0].place_key,
                "members": [_member_document(m) for m in recent],
            }
            updates.append(UpdateOne({"_id": key}, {"$set": document}, upsert=True))
        for part in chunks(updates):
            await self.places.bulk_write(list(part), ordered=False)

    # review queue and feedback ------------------------------------------------------------
    async def enqueue_review(self, events: Sequence[AppealClassifiedV1]) -> None:
        await insert_new(
            self.review,
            [
                {
                    "_id": str(e.appeal_id),
                    "status": "open",
                    "at": e.occurred_at,
                    "registration_number": e.appeal.registration_number,
                    "text": e.appeal.text,
                    "topic": e.classification.topic,
                    "confidence": e.classification.confidence,
                    "alternatives": [a.model_dump() for a in e.classification.alternatives],
                    "urgency": e.classification.urgency.value,
                    "classifier": e.classification.classifier,
                }
                for e in events
            ],
        )

    async def review_items(self, status: str, limit: int, offset: int) -> list[Document]:
        cursor = self.review.find({"status": status}).sort("at", ASCENDING).skip(offset)
        return [doc async for doc in cursor.limit(limit)]

    async def review_item(self, appeal_id: str) -> Document | None:
        return await self.review.find_one({"_id": appeal_id})

    async def add_feedback(self, document: dict[str, Any]) -> None:
        await insert_new(self.feedback, [document])

    async def close_review(self, appeal_id: str, correction_id: str) -> None:
        await self.review.update_one(
            {"_id": appeal_id}, {"$set": {"status": "labelled", "correction_id": correction_id}}
        )

    async def feedback_examples(self) -> list[tuple[str, str, str]]:
        return [
            (doc["text"], doc["topic"], doc["urgency"])
            async for doc in self.feedback.find({}).sort("at", ASCENDING)
        ]


def _place(member: Candidate) -> str:
    return f"{member.topic}|{member.place_key}"


def _member_document(member: Candidate) -> dict[str, Any]:
    return {
        "appeal_id": member.appeal_id,
        "incident_id": member.incident_id,
        "topic": member.topic,
        "place_key": member.place_key,
        "lemmas": sorted(member.lemmas),
        "at": member.at,
    }


def _candidate(topic: str, place_key: str, document: Document) -> Candidate:
    return Candidate(
        appeal_id=document["appeal_id"],
        incident_id=document["incident_id"],
        topic=topic,
        place_key=place_key,
        lemmas=frozenset(document["lemmas"]),
        at=document["at"],
    )
