"""Ingest's HTTP API: submit an appeal, follow its lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from .domain.intake import AppealSubmission
from .registrar import PublishFailedError, Registrar
from .storage import IngestStore


class AppealAccepted(BaseModel):
    appeal_id: uuid.UUID
    registration_number: str
    registered_at: str
    status: str
    trace_id: str | None
    status_url: str


def create_api(registrar: Registrar, store: IngestStore) -> FastAPI:
    api = FastAPI(
        title="Veche ingest",
        summary="Citizen appeals in; their lifecycle out.",
        version="1",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]

    @api.post(
        "/appeals",
        status_code=status.HTTP_201_CREATED,
        response_model=AppealAccepted,
        responses={413: {"description": "body too large"}, 503: {"description": "try again"}},
    )
    async def submit_appeal(submission: AppealSubmission) -> AppealAccepted:
        try:
            registered = await registrar.register(submission)
        except PublishFailedError as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error
        appeal = registered.event.appeal
        return AppealAccepted(
            appeal_id=registered.event.appeal_id,
            registration_number=appeal.registration_number,
            registered_at=appeal.registered_at.isoformat(),
            status="received",
            trace_id=registered.trace_id,
            status_url=f"/appeals/{registered.event.appeal_id}",
        )

    @api.get("/appeals/{appeal_id}")
    async def get_appeal(appeal_id: uuid.UUID) -> dict[str, Any]:
        view = await store.appeal_view(str(appeal_id))
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no appeal {appeal_id}")
        return view

    return api


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """Say which field is wrong and why; never echo the submitted values back into logs."""
    problems = [
        {
            "field": ".".join(str(p) for p in issue["loc"] if p != "body") or "body",
            "message": issue["msg"],
            "type": issue["type"],
        }
        for issue in error.errors()
    ]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"error": "validation_failed", "problems": problems},
    )


class BodySizeLimit:
    """Reject oversized bodies with 413 before reading them into memory."""

    def __init__(self, app: FastAPI, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers", [])).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _too_large(limit: int) -> ASGIApp:
    return JSONResponse(
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        content={"error": "body_too_large", "limit_bytes": limit},
    )
