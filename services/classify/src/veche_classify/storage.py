"""Classify's documents: one classification per incoming event (``_id`` = its event id)."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealClassifiedV1
from veche_shared.mongo import Document, record_once


class ClassifyStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.classifications = self.db["classifications"]

    async def create_indexes(self) -> None:
        await self.classifications.create_index([("appeal_id", ASCENDING)])

    async def record(
        self, decisions: Sequence[tuple[str, AppealClassifiedV1]]
    ) -> list[AppealClassifiedV1]:
        """Store each decision once; return the events as first recorded (for republishing)."""
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "topic": event.classification.topic,
                "urgency": event.classification.urgency.value,
                "confidence": event.classification.confidence,
                "classifier": event.classification.classifier,
                "at": event.occurred_at,
                "event": event.model_dump(mode="json", exclude_none=True),
            }
            for source_event_id, event in decisions
        ]
        stored = await record_once(self.classifications, documents)
        return [AppealClassifiedV1.model_validate(doc["event"]) for doc in stored]
