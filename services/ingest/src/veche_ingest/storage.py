"""Ingest's documents: appeals, their timeline, registration counters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from veche_shared.events import AppealReceivedV1
from veche_shared.mongo import Document, insert_new

from .domain.timeline import Stage, current_status, timeline_entry


class IngestStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.appeals = self.db["appeals"]
        self.timeline = self.db["timeline"]
        self.registrations = self.db["registrations"]
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_claimed: dict[str, int] = {}

    async def create_indexes(self) -> None:
        await self.timeline.create_index([("appeal_id", ASCENDING), ("at", ASCENDING)])
        await self.appeals.create_index("registration_number", unique=True)
        await self.registrations.create_index([("key", ASCENDING), ("seq", DESCENDING)])

    async def next_sequence(self, key: str) -> int:
        """Claim the next number of a sequence: gap-free and unique on any MongoDB-protocol server.

        Each number is a document whose ``_id`` is the number itself, so the store's unique
        ``_id`` decides races (an atomic ``$inc`` is not available everywhere: FerretDB's
        find_one_and_update is not atomic under concurrency). Within a process a lock and the
        last claimed number avoid collisions; across replicas a collision costs one retry.
        """
        async with self._locks.setdefault(key, asyncio.Lock()):
            candidate = self._last_claimed.get(key) or await self._highest_claim(key)
            while True:
                candidate += 1
                try:
                    await self.registrations.insert_one(
                        {"_id": f"{key}:{candidate:06d}", "key": key, "seq": candidate}
                    )
                except DuplicateKeyError:
                    continue  # another replica took it: try the next one
                self._last_claimed[key] = candidate
                return candidate

    async def _highest_claim(self, key: str) -> int:
        latest = await self.registrations.find_one({"key": key}, sort=[("seq", DESCENDING)])
        return int(latest["seq"]) if latest else 0

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
