"""Channel endpoints for systems: the governor's hotline, ЕДДС, social media and ПОС."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..domain.channels import EddsIncident, HotlineCall, SocialBatch
from ..registrar import Registrar
from ..settings import IngestSettings
from ..storage import IngestStore
from .common import (
    ACCEPT_RESPONSES,
    AppealAccepted,
    accepted,
    accepted_response,
    client_system,
    validation_response,
)

SIGNATURE_PREFIX = "sha256="


def channels_router(
    registrar: Registrar, store: IngestStore, settings: IngestSettings
) -> APIRouter:
    router = APIRouter(prefix="/channels", tags=["channels"])
    authenticated = Depends(client_system(store))

    @router.post(
        "/hotline/calls",
        status_code=status.HTTP_201_CREATED,
        response_model=AppealAccepted,
        responses={**ACCEPT_RESPONSES, 401: {}, 403: {}},
        summary="Запись звонка на горячую линию губернатора",
    )
    async def hotline_call(call: HotlineCall, client: str = authenticated) -> JSONResponse:
        registered = await registrar.register(call.to_intake(), private={"client": client})
        return accepted_response(registered)

    @router.post(
        "/edds/incidents",
        status_code=status.HTTP_201_CREATED,
        response_model=AppealAccepted,
        responses={**ACCEPT_RESPONSES, 401: {}, 403: {}},
        summary="Происшествие из ЕДДС (срочность не ниже high)",
    )
    async def edds_incident(incident: EddsIncident, client: str = authenticated) -> JSONResponse:
        registered = await registrar.register(incident.to_intake(), private={"client": client})
        return accepted_response(registered)

    @router.post(
        "/social/{source}/posts",
        summary="Пакет сообщений из соцсетей или ПОС (подпись HMAC-SHA256)",
        responses={401: {"description": "missing, stale or wrong signature"}, 404: {}, 422: {}},
    )
    async def social_posts(
        source: str,
        request: Request,
        x_veche_timestamp: Annotated[str | None, Header()] = None,
        x_veche_signature: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        secret = settings.social_secrets.get(source)
        if secret is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown source {source!r}")
        body = await request.body()
        problem = signature_problem(
            secret.get_secret_value().encode(),
            body,
            x_veche_timestamp,
            x_veche_signature,
            max_skew=settings.social_max_skew_s,
        )
        if problem:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem)
        try:
            batch = SocialBatch.model_validate_json(body)
        except ValidationError as error:
            return validation_response(error)
        results = [
            accepted(await registrar.register(post.to_intake(source))).model_dump(mode="json")
            for post in batch.posts
        ]
        return JSONResponse({"accepted": len(results), "appeals": results})

    return router


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature a source sends: HMAC-SHA256 over ``"<timestamp>." + body``, hex."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_problem(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    max_skew: int,
    now: float | None = None,
) -> str | None:
    """Why a webhook call is not authentic, or None when it is."""
    if not timestamp or not signature:
        return "X-Veche-Timestamp and X-Veche-Signature headers required"
    if not timestamp.isdigit():
        return "X-Veche-Timestamp must be Unix seconds"
    if abs((now or time.time()) - int(timestamp)) > max_skew:
        return "stale timestamp (replay protection)"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "signature does not match"
    return None
