"""``/appeals``: submit an appeal, list appeals, follow one appeal's lifecycle."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from veche_shared.events import Channel

from ..closing import AnswerConflictError, Closer
from ..domain.answers import AnswerSubmission
from ..domain.intake import AppealSubmission
from ..domain.timeline import STAGE_ORDER, Stage
from ..registrar import Registrar
from ..storage import IngestStore
from .common import ACCEPT_RESPONSES, AppealAccepted, accepted_response, client_system

MAX_PAGE = 200


def appeals_router(registrar: Registrar, store: IngestStore, closer: Closer) -> APIRouter:
    router = APIRouter(tags=["appeals"])
    authenticated = Depends(client_system(store))

    @router.post(
        "/appeals",
        status_code=status.HTTP_201_CREATED,
        response_model=AppealAccepted,
        responses=ACCEPT_RESPONSES,
        summary="Подать обращение",
    )
    async def submit_appeal(
        submission: AppealSubmission,
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=200,
                description="the same key returns the original appeal, never a second one",
            ),
        ] = None,
    ) -> JSONResponse:
        registered = await registrar.register(submission.to_intake(), header_key=idempotency_key)
        return accepted_response(registered)

    @router.get("/appeals", summary="Список обращений (фильтры, страницы)")
    async def list_appeals(
        request: Request,
        status_: Annotated[Stage | None, Query(alias="status")] = None,
        channel: Channel | None = None,
        topic: Annotated[str | None, Query(max_length=50)] = None,
        territory: Annotated[
            str | None, Query(max_length=50, description="OKTMO-like code")
        ] = None,
        registered_from: Annotated[
            AwareDatetime | None, Query(alias="from", description="registered at or after")
        ] = None,
        registered_to: Annotated[
            AwareDatetime | None, Query(alias="to", description="registered before")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> dict[str, Any]:
        filters = appeal_filters(status_, channel, topic, territory, registered_from, registered_to)
        items, total = await store.list_appeals(filters, limit=limit, offset=offset)
        following = offset + limit
        return {
            "items": [appeal_summary(item) for item in items],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next": (
                str(request.url.include_query_params(offset=following))
                if following < total
                else None
            ),
        }

    @router.get("/appeals/{appeal_id}", summary="Статус, трасса и хронология обращения")
    async def get_appeal(appeal_id: uuid.UUID) -> dict[str, Any]:
        view = await store.appeal_view(str(appeal_id))
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no appeal {appeal_id}")
        return view

    @router.post(
        "/appeals/{appeal_id}/answer",
        status_code=status.HTTP_201_CREATED,
        summary="Ответ дан: закрыть обращение (система исполнителя, X-Api-Key)",
        responses={
            200: {"description": "the same answer again (replayed)"},
            404: {"description": "no such appeal"},
            409: {"description": "the appeal already has a different answer"},
            503: {"description": "stored; Kafka did not confirm — retry (same answer, no double)"},
        },
    )
    async def answer_appeal(
        appeal_id: uuid.UUID, answer: AnswerSubmission, client: str = authenticated
    ) -> JSONResponse:
        try:
            closed = await closer.answer(str(appeal_id), answer)
        except AnswerConflictError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        except KafkaError as error:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "answer stored, not yet confirmed by Kafka: retry the same request",
                headers={"Retry-After": "5"},
            ) from error
        if closed is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no appeal {appeal_id}")
        return JSONResponse(
            status_code=status.HTTP_200_OK if closed.replayed else status.HTTP_201_CREATED,
            content={
                "appeal_id": str(appeal_id),
                "status": Stage.ANSWERED.value,
                "outcome": closed.event.outcome.value,
                "replayed": closed.replayed,
            },
        )

    return router


def appeal_filters(
    stage: Stage | None,
    channel: Channel | None,
    topic: str | None,
    territory: str | None,
    registered_from: datetime | None,
    registered_to: datetime | None,
) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if stage is not None:
        filters["stage_rank"] = STAGE_ORDER[stage]
    if channel is not None:
        filters["channel"] = channel.value
    if topic:
        filters["topic"] = topic
    if territory:
        filters["territory"] = territory
    period: dict[str, datetime] = {}
    if registered_from:
        period["$gte"] = registered_from
    if registered_to:
        period["$lt"] = registered_to
    if period:
        filters["registered_at"] = period
    return filters


def appeal_summary(stored: dict[str, Any]) -> dict[str, Any]:
    """A list row: no text, no contact (lists are for triage, not for reading letters)."""
    stages = list(Stage)
    summary = {
        "appeal_id": stored["_id"],
        "registration_number": stored["registration_number"],
        "registered_at": stored["registered_at"].isoformat(),
        "channel": stored["channel"],
        "status": stages[int(stored.get("stage_rank", 0))].value,
        "flags": stored.get("flags", []),
    }
    for key in ("topic", "urgency", "territory", "executor", "answer_by"):
        if stored.get(key) is not None:
            summary[key] = stored[key]
    return summary
