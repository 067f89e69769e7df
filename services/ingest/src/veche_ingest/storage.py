"""Ingest's documents: appeals, their timeline, registration counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealReceivedV1
from veche_shared.mongo import Document, insert_new

from .domain.timeline import Stage, current_status, timeline_entry


class IngestStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.appeals = self.db["appeals"]
        self.timeline = self.db["timeline"]
        self.counters = self.db["counters"]

    async def create_indexes(self) -> None:
        await self.timeline.create_index([("appeal_id", ASCENDING), ("at", ASCENDING)])
        await self.appeals.create_index("registration_number", unique=True)

    async def next_sequence(self, key: str) -> int:
        """Atomic per-key counter: one ``$inc`` upsert, no read-modify-write."""
        counter = await self.counters.find_one_and_update(
            {"_id": key},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # upsert with AFTER always returns the document
        return int(counter["value"])

    async def save_received(self, event: AppealReceivedV1, trace_id: str | None) -> None:
        appeal = event.appeal
        await self.appeals.insert_one(
            {
                "_id": str(event.appeal_id),
                "registration_number": appeal.registration_number,
                "registered_at": appeal.registered_at,
                "region_code": appeal.region_code,
                "channel": appeal.channel.value,
                "trace_id": trace_id,
                "received_event_id": str(event.event_id),
                # the citizen's submission, kept for the record owner (ingest) only
                "submission": appeal.model_dump(mode="json", exclude_none=True),
            }
        )
        await self.timeline.insert_one(timeline_entry(event))

    async def forget(self, event: AppealReceivedV1) -> None:
        """Undo ``save_received`` when the event could not be published (nothing half-done)."""
        await self.timeline.delete_one({"_id": str(event.event_id)})
        await self.appeals.delete_one({"_id": str(event.appeal_id)})

    async def add_timeline(self, entries: Sequence[dict[str, Any]]) -> int:
        """Insert entries keyed by event id; return how many were new."""
        duplicates = await insert_new(self.timeline, entries)
        return len(entries) - len(duplicates)

    async def appeal_view(self, appeal_id: str) -> dict[str, Any] | None:
        appeal = await self.appeals.find_one({"_id": appeal_id}, {"submission": 0})
        if appeal is None:
            return None
        entries = [
            entry
            async for entry in self.timeline.find({"appeal_id": appeal_id}).sort("at", ASCENDING)
        ]
        status = current_status([e["stage"] for e in entries])
        return {
            "appeal_id": appeal_id,
            "registration_number": appeal["registration_number"],
            "registered_at": _iso(appeal["registered_at"]),
            "status": status.value,
            "trace_id": appeal.get("trace_id"),
            "timeline": [
                {"stage": e["stage"], "at": _iso(e["at"]), "event_id": e["_id"], **e["summary"]}
                for e in entries
            ],
        }


def _iso(value: datetime) -> str:
    return value.isoformat()


__all__ = ["IngestStore", "Stage"]
