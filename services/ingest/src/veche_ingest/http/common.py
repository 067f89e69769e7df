"""What every intake endpoint answers, and how client systems authenticate."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import Header, HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from ..registrar import Registered
from ..storage import IngestStore


class AppealAccepted(BaseModel):
    appeal_id: uuid.UUID
    registration_number: str = Field(examples=["71-2026-000123"])
    registered_at: str = Field(description="start of the 59-ФЗ clock (UTC, ISO 8601)")
    status: str = Field(examples=["received"])
    published: bool = Field(description="false: stored, handed to the pipeline shortly (202)")
    replayed: bool = Field(description="true: a repeat of an earlier submission (200)")
    trace_id: str | None
    status_url: str


ACCEPT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": AppealAccepted, "description": "a repeat: the original appeal"},
    202: {"model": AppealAccepted, "description": "stored; the pipeline gets it shortly"},
    413: {"description": "body too large"},
    422: {"description": "invalid field (which one and why), or an Idempotency-Key reused"},
}


def accepted(registered: Registered) -> AppealAccepted:
    return AppealAccepted(
        appeal_id=uuid.UUID(registered.appeal_id),
        registration_number=registered.registration_number,
        registered_at=registered.registered_at,
        status="received",
        published=not registered.queued,
        replayed=registered.replayed,
        trace_id=registered.trace_id,
        status_url=f"/appeals/{registered.appeal_id}",
    )


def accepted_status(registered: Registered) -> int:
    if registered.replayed:
        return status.HTTP_200_OK
    return status.HTTP_202_ACCEPTED if registered.queued else status.HTTP_201_CREATED


def accepted_response(registered: Registered) -> JSONResponse:
    return JSONResponse(
        status_code=accepted_status(registered),
        content=accepted(registered).model_dump(mode="json"),
    )


def client_system(store: IngestStore) -> Callable[..., Awaitable[str]]:
    """A dependency: the calling system, by its API key (``X-Api-Key``)."""

    async def authenticate(x_api_key: str | None = Header(default=None)) -> str:
        if not x_api_key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "X-Api-Key header required (keys: `veche-ingest api-key create NAME`)",
            )
        client = await store.api_client(x_api_key)
        if client is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "unknown API key")
        return client

    return authenticate


def problems_of(error: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    """Which field is wrong and why — never the submitted value (it may be personal data)."""
    return [
        {
            "field": ".".join(str(p) for p in issue["loc"] if p != "body") or "body",
            "message": issue["msg"],
            "type": issue["type"],
        }
        for issue in error.errors()
    ]


def validation_response(error: RequestValidationError | ValidationError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"error": "validation_failed", "problems": problems_of(error)},
    )
