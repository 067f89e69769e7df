"""Notify's documents.

* ``notifications`` — one per unique key (appeal, kind, recipient, channel): the rendered message
  and its delivery status. A redelivered event finds the key taken and sends nothing twice.
* ``outcomes`` — one per incoming routed event: the ``appeals.notified.v1`` event it produced,
  republished unchanged on redelivery so downstream deduplicates by its event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealNotifiedV1
from veche_shared.mongo import Document, insert_new, record_once


class NotifyStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.notifications = self.db["notifications"]
        self.outcomes = self.db["outcomes"]

    async def create_indexes(self) -> None:
        await self.notifications.create_index([("appeal_id", ASCENDING)])

    async def record_notifications(self, documents: Sequence[dict[str, Any]]) -> set[str]:
        """Insert new notifications; return the keys that already existed."""
        return {str(key) for key in await insert_new(self.notifications, documents)}

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
