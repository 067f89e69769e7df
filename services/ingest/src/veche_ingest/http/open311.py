"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over Veche's appeals.

* Service codes are the topic taxonomy's slugs; a request's ``service_request_id`` is the appeal's
  registration number.
* Formats: ``.json`` and ``.xml`` on every path; errors in the spec's shape and status codes.
* ``POST requests`` needs a client system's ``api_key``; the GET side is public, so it returns an
  appeal's status and who answers it by when — never the citizen's text, address or contact
  (personal data, 152-ФЗ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from veche_shared.events import utc_now
from veche_shared.taxonomy import TopicInfo, topics

from ..domain.channels import Open311Request
from ..domain.timeline import STAGE_ORDER, Stage
from ..registrar import IdempotencyConflictError, Registrar
from ..settings import IngestSettings
from ..storage import IngestStore

FORMATS = ("json", "xml")
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default for GET requests without dates
MAX_RESULTS = 1000  # the spec's suggested cap


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def open311_router(registrar: Registrar, store: IngestStore, settings: IngestSettings) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])
    services = {topic.code: topic for topic in topics()}

    def check_jurisdiction(request: Request) -> None:
        jurisdiction = request.query_params.get("jurisdiction_id")
        if jurisdiction not in (None, "", settings.region_code):
            raise Open311Error(404, f"jurisdiction_id {jurisdiction} is not served here")

    @router.get("/services.{fmt}", summary="Open311: список услуг (тем обращений)")
    async def service_list(fmt: str, request: Request) -> Response:
        async def answer() -> Any:
            check_jurisdiction(request)
            return [service_entry(topic) for topic in services.values()]

        return await respond(fmt, answer, root="services", item="service")

    @router.get("/services/{code}.{fmt}", summary="Open311: описание услуги")
    async def service_definition(code: str, fmt: str, request: Request) -> Response:
        async def answer() -> Any:
            check_jurisdiction(request)
            if code not in services:
                raise Open311Error(404, f"service_code {code} not found")
            return {"service_code": code, "attributes": []}

        return await respond(fmt, answer, root="service_definition", item=None)

    @router.post("/requests.{fmt}", summary="Open311: подать заявку (form-encoded, api_key)")
    async def create_request(fmt: str, request: Request) -> Response:
        async def answer() -> Any:
            check_jurisdiction(request)
            form = {key: str(value) for key, value in (await request.form()).items()}
            await authenticate(store, form.pop("api_key", None))
            submitted = parse_request(form, services)
            try:
                registered = await registrar.register(
                    submitted.to_intake(), header_key=request.headers.get("idempotency-key")
                )
            except IdempotencyConflictError as error:
                raise Open311Error(400, str(error)) from error
            return [
                {
                    "service_request_id": registered.registration_number,
                    "service_notice": "Обращение зарегистрировано; ответ — в течение 30 дней "
                    "(59-ФЗ).",
                    "account_id": None,
                }
            ]

        return await respond(fmt, answer, root="service_requests", item="request", created=True)

    @router.get("/requests.{fmt}", summary="Open311: заявки (фильтры спецификации)")
    async def list_requests(fmt: str, request: Request) -> Response:
        async def answer() -> Any:
            check_jurisdiction(request)
            filters = request_filters(request.query_params)
            found, _ = await store.list_appeals(filters, limit=MAX_RESULTS, offset=0)
            return [request_entry(appeal, services) for appeal in found]

        return await respond(fmt, answer, root="service_requests", item="request")

    @router.get("/requests/{request_id}.{fmt}", summary="Open311: одна заявка")
    async def get_request(request_id: str, fmt: str, request: Request) -> Response:
        async def answer() -> Any:
            check_jurisdiction(request)
            appeal = await store.appeal_by_number(request_id)
            if appeal is None:
                raise Open311Error(404, f"service_request_id {request_id} not found")
            return [request_entry(appeal, services)]

        return await respond(fmt, answer, root="service_requests", item="request")

    return router


async def respond(
    fmt: str, answer: Any, *, root: str, item: str | None, created: bool = False
) -> Response:
    """Run a handler and render its result or its :class:`Open311Error` in the asked format."""
    if fmt not in FORMATS:
        return render(
            "json", [error_entry(404, f"format .{fmt} not supported")], "errors", "error", 404
        )
    try:
        result = await answer()
    except Open311Error as error:
        return render(
            fmt, [error_entry(error.code, error.description)], "errors", "error", error.code
        )
    return render(fmt, result, root, item, status.HTTP_201_CREATED if created else 200)


async def authenticate(store: IngestStore, api_key: str | None) -> str:
    if not api_key:
        raise Open311Error(403, "api_key required")
    client = await store.api_client(api_key)
    if client is None:
        raise Open311Error(403, "invalid api_key")
    return client


def parse_request(form: Mapping[str, str], services: Mapping[str, TopicInfo]) -> Open311Request:
    fields = {k: v for k, v in form.items() if v != "" and k in Open311Request.model_fields}
    try:
        submitted = Open311Request.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in error.errors()
        )
        raise Open311Error(400, problems) from error
    if submitted.service_code not in services:
        raise Open311Error(400, f"service_code {submitted.service_code} not found")
    has_point = submitted.lat is not None and submitted.long is not None
    if not has_point and not submitted.address_string and not form.get("address_id"):
        raise Open311Error(400, "a location is required: lat & long, address_string or address_id")
    return submitted


def request_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """The spec's filters as a store query."""
    if ids := _listed(params.get("service_request_id")):
        return {"registration_number": {"$in": ids}}  # overrides every other filter (spec)
    statuses = _listed(params.get("status")) or ["open", "closed"]
    filters: dict[str, Any] = {}
    if "open" not in statuses:
        filters["stage_rank"] = STAGE_ORDER[Stage.ANSWERED]  # closed = answered
    elif "closed" not in statuses:
        filters["stage_rank"] = {"$lt": STAGE_ORDER[Stage.ANSWERED]}
    if codes := _listed(params.get("service_code")):
        filters["$or"] = [{"topic": {"$in": codes}}, {"topic_hint": {"$in": codes}}]
    end = _date(params.get("end_date"), "end_date") or utc_now()
    start = _date(params.get("start_date"), "start_date") or end - DEFAULT_WINDOW
    filters["registered_at"] = {"$gte": start, "$lte": end}
    return filters


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Open311Error(400, f"{name} must be a W3C date-time") from error
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone")
    return parsed


def service_entry(topic: TopicInfo) -> dict[str, Any]:
    return {
        "service_code": topic.code,
        "service_name": topic.name,
        "description": topic.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(topic.keywords[:10]),
        "group": topic.section_name,
    }


def request_entry(appeal: Mapping[str, Any], services: Mapping[str, TopicInfo]) -> dict[str, Any]:
    code = appeal.get("topic") or appeal.get("topic_hint")
    stage = list(Stage)[int(appeal.get("stage_rank", 0))]
    topic = services.get(code) if code else None
    return {
        "service_request_id": appeal["registration_number"],
        "status": "closed" if stage is Stage.ANSWERED else "open",
        "status_notes": STATUS_NOTES[stage],
        "service_name": topic.name if topic else None,
        "service_code": code,
        "agency_responsible": appeal.get("executor"),
        "service_notice": None,
        "requested_datetime": appeal["registered_at"].isoformat(),
        "updated_datetime": (appeal.get("updated_at") or appeal["registered_at"]).isoformat(),
        "expected_datetime": appeal.get("answer_by"),
    }


STATUS_NOTES = {
    Stage.RECEIVED: "зарегистрировано",
    Stage.CLASSIFIED: "определена тема",
    Stage.ROUTED: "направлено исполнителю",
    Stage.NOTIFIED: "заявитель уведомлён",
    Stage.ANSWERED: "дан ответ, обращение закрыто",
}


def error_entry(code: int, description: str) -> dict[str, Any]:
    return {"code": code, "description": description}


def render(fmt: str, data: Any, root: str, item: str | None, code: int) -> Response:
    if fmt == "xml":
        return Response(to_xml(data, root, item), status_code=code, media_type="text/xml")
    return JSONResponse(data, status_code=code)


def to_xml(data: Any, root: str, item: str | None) -> bytes:
    element = ElementTree.Element(root)
    rows: Sequence[Mapping[str, Any]] = data if isinstance(data, list) else [data]
    for row in rows:
        parent = ElementTree.SubElement(element, item) if item else element
        _fill(parent, row)
    return bytes(ElementTree.tostring(element, encoding="utf-8", xml_declaration=True))


def _fill(parent: ElementTree.Element, row: Mapping[str, Any]) -> None:
    for key, value in row.items():
        if value is None:
            continue
        child = ElementTree.SubElement(parent, key)
        if isinstance(value, list):
            for entry in value:
                _fill(ElementTree.SubElement(child, "attribute"), entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        else:
            child.text = str(value)
