"""Notify's documents.

* ``notifications`` — one per unique key (appeal, kind, recipient, channel): the rendered message
  and its delivery state ``pending`` → ``sending`` → ``sent`` | ``failed`` | ``gave_up`` |
  ``skipped`` | ``unknown``. ``sending`` is written *before* the message leaves, so a process
  that dies mid-send leaves a trace that the next delivery of the event reconciles.
* ``outcomes`` — one per incoming event: the ``appeals.notified.v1`` event it produced,
  republished unchanged on redelivery so downstream deduplicates by its event id.
* ``subscriptions`` — municipal systems' webhook subscriptions (URL, event types, secret).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealNotifiedV1
from veche_shared.mongo import MAX_CONCURRENT_UPDATES, Document, chunks, insert_new, record_once

PENDING = "pending"
SENDING = "sending"


class NotifyStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.notifications = self.db["notifications"]
        self.outcomes = self.db["outcomes"]
        self.subscriptions = self.db["subscriptions"]
        # every consumer's sends finish concurrently: bound the update statements in flight
        # (see veche_shared.mongo.MAX_CONCURRENT_UPDATES)
        self._updates = asyncio.Semaphore(MAX_CONCURRENT_UPDATES)

    async def create_indexes(self) -> None:
        await self.notifications.create_index([("appeal_id", ASCENDING)])
        await self.notifications.create_index([("status", ASCENDING)])

    # notifications -------------------------------------------------------------------------

    async def record_notifications(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        """Insert new notifications; return the keys that already existed."""
        return {str(key) for key in await insert_new(self.notifications, documents)}

    async def load(self, keys: Iterable[str]) -> dict[str, Document]:
        found: dict[str, Document] = {}
        for part in chunks(sorted(set(keys)), 500):
            async for document in self.notifications.find({"_id": {"$in": list(part)}}):
                found[document["_id"]] = document
        return found

    async def claim(self, keys: Sequence[str], token: str, at: datetime) -> list[Document]:
        """Move pending notifications to ``sending`` under this run's token; return those won.

        One statement for the whole chunk; reading back by token tells which keys this run owns
        (another consumer that claimed a key first keeps it).
        """
        async with self._updates:
            await self.notifications.update_many(
                {"_id": {"$in": list(keys)}, "status": PENDING},
                {"$set": {"status": SENDING, "claim": token, "claimed_at": at}},
            )
        cursor = self.notifications.find(
            {"_id": {"$in": list(keys)}, "status": SENDING, "claim": token}
        )
        return [document async for document in cursor]

    async def finish(self, results: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Write final states (under FerretDB's limit of statements per command)."""
        for part in chunks(results):
            async with self._updates:
                await self.notifications.bulk_write(
                    [UpdateOne({"_id": key}, {"$set": dict(fields)}) for key, fields in part],
                    ordered=False,
                )

    async def mark_dead_lettered(self, keys: Sequence[str]) -> None:
        if keys:
            async with self._updates:
                await self.notifications.update_many(
                    {"_id": {"$in": list(keys)}}, {"$set": {"dead_lettered": True}}
                )

    # outcomes ------------------------------------------------------------------------------

    async def record_outcomes(
        self, outcomes: Sequence[tuple[str, AppealNotifiedV1]]
    ) -> list[AppealNotifiedV1]:
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "at": event.occurred_at,
                "event": event.model_dump(mode="json", exclude_none=True),
            }
            for source_event_id, event in outcomes
        ]
        stored = await record_once(self.outcomes, documents)
        return [AppealNotifiedV1.model_validate(doc["event"]) for doc in stored]

    # subscriptions -------------------------------------------------------------------------

    async def add_subscription(self, document: Mapping[str, Any]) -> None:
        await self.subscriptions.insert_one(dict(document))

    async def list_subscriptions(self) -> list[Document]:
        return [document async for document in self.subscriptions.find({}).sort("created_at")]

    async def get_subscription(self, subscription_id: str) -> Document | None:
        return await self.subscriptions.find_one({"_id": subscription_id})

    async def delete_subscription(self, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id})
        return result.deleted_count == 1
