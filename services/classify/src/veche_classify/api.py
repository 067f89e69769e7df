"""Operator API: the review queue of low-confidence decisions and corrections.

A correction is stored as training feedback (``veche-classify train --with-feedback``) and
re-emitted downstream as a new ``AppealClassifiedV1`` (``corrected: true``) so route re-routes.
The API is meant for the internal network (no authentication of its own yet).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, status
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ConfigDict, Field
from veche_shared.events import AppealClassifiedV1, TopicScore, Urgency, utc_now
from veche_shared.topics import APPEALS_CLASSIFIED

from .settings import ClassifySettings
from .storage import ClassifyStore


class ReviewItem(BaseModel):
    appeal_id: str
    registration_number: str
    status: str
    at: datetime
    text: str
    topic: str
    confidence: float
    alternatives: list[TopicScore]
    urgency: Urgency
    classifier: str


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(description="taxonomy slug")
    urgency: Urgency
    operator: str | None = Field(default=None, max_length=100, description="operator id")


class CorrectionOut(BaseModel):
    correction_id: str
    appeal_id: str
    event_id: str
    topic: str
    urgency: Urgency


def create_api(
    store: ClassifyStore, broker: KafkaBroker, settings: ClassifySettings, topics: list[str]
) -> FastAPI:
    api = FastAPI(title="Veche classify", description="Review queue and corrections.", version="1")

    @api.get("/review", response_model=list[ReviewItem])
    async def review_queue(
        status_: Annotated[str, Query(alias="status", pattern="^(open|labelled)$")] = "open",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[ReviewItem]:
        return [_item(doc) for doc in await store.review_items(status_, limit, offset)]

    @api.post(
        "/review/{appeal_id}/correction",
        status_code=status.HTTP_201_CREATED,
        response_model=CorrectionOut,
    )
    async def correct(appeal_id: uuid.UUID, body: CorrectionIn) -> CorrectionOut:
        if body.topic not in topics:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"unknown topic {body.topic!r}; known: {', '.join(topics)}",
            )
        previous = await store.latest(str(appeal_id))
        if previous is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"appeal {appeal_id} not classified")
        classification = previous.classification.model_copy(
            update={
                "topic": body.topic,
                "urgency": body.urgency,
                "confidence": 1.0,
                "alternatives": (),
                "needs_review": False,
                "corrected": True,
                "classifier": f"operator:{body.operator or 'unknown'}",
            }
        )
        event = AppealClassifiedV1(
            appeal_id=previous.appeal_id, appeal=previous.appeal, classification=classification
        )
        correction_id = str(uuid.uuid4())
        await store.add_feedback(
            {
                "_id": correction_id,
                "appeal_id": str(appeal_id),
                "text": previous.appeal.text,
                "topic": body.topic,
                "urgency": body.urgency.value,
                "model_topic": previous.classification.topic,
                "model_urgency": previous.classification.urgency.value,
                "model": previous.classification.classifier,
                "at": utc_now(),
                "event_id": str(event.event_id),
            }
        )
        await store.record([(f"correction:{correction_id}", event)])
        await broker.publish(
            event.to_bytes(),
            topic=APPEALS_CLASSIFIED.qualified(settings.namespace),
            key=event.key(),
            headers={"content-type": "application/json"},
        )
        await store.close_review(str(appeal_id), correction_id)
        return CorrectionOut(
            correction_id=correction_id,
            appeal_id=str(appeal_id),
            event_id=str(event.event_id),
            topic=body.topic,
            urgency=body.urgency,
        )

    return api


def _item(doc: dict[str, Any]) -> ReviewItem:
    return ReviewItem(appeal_id=doc["_id"], **{k: v for k, v in doc.items() if k in _FIELDS})


_FIELDS = set(ReviewItem.model_fields) - {"appeal_id"}
