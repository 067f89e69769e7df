"""The FastAPI application: routers, error format, request-size limit."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..closing import Closer
from ..registrar import IdempotencyConflictError, NumberingError, Registrar
from ..settings import IngestSettings
from ..storage import IngestStore
from .appeals import appeals_router
from .channels import channels_router
from .common import validation_response
from .open311 import open311_router

log = logging.getLogger(__name__)

DESCRIPTION = """\
Обращения граждан — приём и жизненный цикл.

* `POST /appeals` — обращение с портала или из любой системы (JSON); заголовок `Idempotency-Key`
  делает повторную отправку безопасной.
* `GET /appeals`, `GET /appeals/{id}` — статус (`received` → `classified` → `routed` →
  `notified`), трасса и хронология.
* `/channels/…` — горячая линия, ЕДДС, соцсети и ПОС (подписанный вебхук).
* `/open311/v2/…` — стандарт Open311 GeoReport v2 (JSON и XML).
"""


def create_api(
    registrar: Registrar, store: IngestStore, settings: IngestSettings, closer: Closer
) -> FastAPI:
    api = FastAPI(
        title="Veche ingest",
        summary="Citizen appeals in; their lifecycle out.",
        description=DESCRIPTION,
        version="1",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    api.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    api.add_exception_handler(IdempotencyConflictError, idempotency_conflict)  # type: ignore[arg-type]
    api.add_exception_handler(NumberingError, numbering_failed)  # type: ignore[arg-type]
    api.include_router(appeals_router(registrar, store, closer))
    api.include_router(channels_router(registrar, store, settings))
    api.include_router(open311_router(registrar, store, settings))
    return api


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    return validation_response(error)


async def idempotency_conflict(request: Request, error: IdempotencyConflictError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"error": "idempotency_key_reused", "message": str(error)},
    )


async def numbering_failed(request: Request, error: NumberingError) -> JSONResponse:
    """Nothing was registered (the outbox entry without its appeal is dropped by the relay):
    the sender may retry; the operators must reconcile the appeals with the number sequence."""
    log.error("registration failed: %s", error)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"error": "registration_numbers_unavailable", "message": str(error)},
        headers={"Retry-After": "60"},
    )


class BodySizeLimit:
    """413 for bodies over the limit, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No length declared: buffer up to the limit, then hand the body on.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            content={"error": "body_too_large", "limit_bytes": self.max_bytes},
        )
        await response(scope, receive, send)
