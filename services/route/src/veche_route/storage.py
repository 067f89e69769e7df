"""Route's documents: one routing decision per incoming event (``_id`` = its event id)."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealRoutedV1
from veche_shared.mongo import Document, record_once


class RouteStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.routings = self.db["routings"]

    async def create_indexes(self) -> None:
        await self.routings.create_index([("appeal_id", ASCENDING)])

    async def record(self, decisions: Sequence[tuple[str, AppealRoutedV1]]) -> list[AppealRoutedV1]:
        """Store each decision once; return the events as first recorded (for republishing)."""
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "topic": event.topic,
                "territory": event.territory.code,
                "executor": event.executor.code,
                "rule_id": event.rule_id,
                "answer_by": event.deadlines.answer_by,
                "at": event.occurred_at,
                "event": event.model_dump(mode="json", exclude_none=True),
            }
            for source_event_id, event in decisions
        ]
        stored = await record_once(self.routings, documents)
        return [AppealRoutedV1.model_validate(doc["event"]) for doc in stored]
