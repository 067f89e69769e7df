"""Webhook subscriptions for municipal systems: register a URL, the event types and a secret.

The secret signs every delivery (docs/notify.md); it is returned once, when created, and never
listed. The API is meant for the internal network (no authentication of its own yet).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Response, status
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from veche_shared.events import utc_now

from .domain.plan import WEBHOOK_EVENT_TYPES
from .storage import NotifyStore


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="where deliveries are POSTed")
    event_types: Annotated[list[str], Field(min_length=1)] = Field(
        description=f"any of {', '.join(WEBHOOK_EVENT_TYPES)}"
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="HMAC key; generated when omitted (returned once)",
    )
    description: str | None = Field(default=None, max_length=200)

    @field_validator("event_types")
    @classmethod
    def known_event_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(WEBHOOK_EVENT_TYPES)}")
        return sorted(set(value))


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="keep it: it is not shown again")


def _public(document: dict[str, Any]) -> SubscriptionOut:
    return SubscriptionOut(
        id=document["_id"],
        url=document["url"],
        event_types=document["event_types"],
        description=document.get("description"),
        created_at=document["created_at"],
    )


def create_api(store: NotifyStore) -> FastAPI:
    api = FastAPI(
        title="Veche notify",
        description="Webhook subscriptions of municipal systems; deliveries are HMAC-signed.",
        version="1",
    )

    @api.post(
        "/webhooks/subscriptions",
        status_code=status.HTTP_201_CREATED,
        response_model=SubscriptionCreated,
    )
    async def subscribe(body: SubscriptionIn) -> SubscriptionCreated:
        document = {
            "_id": str(uuid.uuid4()),
            "url": str(body.url),
            "event_types": body.event_types,
            "secret": body.secret or secrets.token_urlsafe(32),
            "description": body.description,
            "created_at": utc_now(),
        }
        await store.add_subscription(document)
        return SubscriptionCreated(**_public(document).model_dump(), secret=document["secret"])

    @api.get("/webhooks/subscriptions", response_model=list[SubscriptionOut])
    async def list_subscriptions() -> list[SubscriptionOut]:
        return [_public(d) for d in await store.list_subscriptions()]

    @api.get("/webhooks/subscriptions/{subscription_id}", response_model=SubscriptionOut)
    async def get_subscription(subscription_id: str) -> SubscriptionOut:
        document = await store.get_subscription(subscription_id)
        if document is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such subscription")
        return _public(document)

    @api.delete("/webhooks/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def unsubscribe(subscription_id: str) -> Response:
        if not await store.delete_subscription(subscription_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such subscription")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return api
