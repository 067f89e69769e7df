"""The HTTP side's pure parts: webhook signatures, Open311 filters and rendering, size limits."""

import json
from datetime import UTC, datetime
from xml.etree import ElementTree

import httpx
import pytest
from fastapi import FastAPI, Request
from veche_ingest.http.app import BodySizeLimit, numbering_failed
from veche_ingest.http.channels import sign, signature_problem
from veche_ingest.http.open311 import Open311Error, parse_request, request_filters, to_xml
from veche_ingest.registrar import NumberingError
from veche_shared.taxonomy import topics

SECRET = b"s3cret"
NOW = 1_763_800_000
SERVICES = {t.code: t for t in topics()}


def test_a_correctly_signed_body_passes_and_any_change_fails():
    body = b'{"posts": []}'
    signature = sign(SECRET, str(NOW), body)
    assert signature_problem(SECRET, body, str(NOW), signature, max_skew=300, now=NOW) is None
    assert signature_problem(SECRET, body + b" ", str(NOW), signature, max_skew=300, now=NOW)
    assert signature_problem(b"other", body, str(NOW), signature, max_skew=300, now=NOW)


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(SECRET, b"100.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, "100", b"{}") == f"sha256={expected}"


def test_stale_or_missing_timestamps_are_refused():
    body = b"{}"
    old = str(NOW - 301)
    problem = signature_problem(SECRET, body, old, sign(SECRET, old, body), max_skew=300, now=NOW)
    assert problem is not None
    assert "stale" in problem
    assert signature_problem(SECRET, body, None, None, max_skew=300, now=NOW)


def test_open311_post_needs_a_known_service_and_a_location():
    with pytest.raises(Open311Error) as unknown:
        parse_request({"service_code": "nope", "description": "x", "lat": "54"}, SERVICES)
    assert unknown.value.code == 400
    with pytest.raises(Open311Error, match="location"):
        parse_request({"service_code": "roads", "description": "Яма"}, SERVICES)
    with pytest.raises(Open311Error, match="lat"):
        parse_request(
            {"service_code": "roads", "description": "Яма", "lat": "north", "long": "37"},
            SERVICES,
        )
    ok = parse_request(
        {"service_code": "roads", "description": "Яма", "address_string": "Тула, ул. Мира, 1"},
        SERVICES,
    )
    assert ok.to_intake().topic_hint == "roads"


def test_open311_filters_follow_the_spec():
    by_id = request_filters({"service_request_id": "71-2026-000001,71-2026-000002"})
    assert by_id == {"registration_number": {"$in": ["71-2026-000001", "71-2026-000002"]}}
    assert request_filters({"status": "closed"})["stage_rank"] == 4  # answered
    assert request_filters({"status": "open"})["stage_rank"] == {"$lt": 4}
    assert "stage_rank" not in request_filters({"status": "open,closed"})
    windowed = request_filters(
        {"service_code": "roads", "start_date": "2026-01-01T00:00:00Z", "status": "open"}
    )
    assert windowed["registered_at"]["$gte"] == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(Open311Error):
        request_filters({"end_date": "yesterday"})


def test_xml_rendering_has_the_spec_roots_and_skips_empty_values():
    xml = to_xml(
        [{"service_code": "roads", "metadata": False, "group": None}], "services", "service"
    )
    root = ElementTree.fromstring(xml)
    assert root.tag == "services"
    service = root.find("service")
    assert service is not None
    assert service.findtext("service_code") == "roads"
    assert service.findtext("metadata") == "false"
    assert service.find("group") is None


async def test_bodies_over_the_limit_get_413_declared_or_chunked():
    api = FastAPI()

    @api.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app = BodySizeLimit(api, max_bytes=1024)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post("/echo", content=b"x" * 100)
        declared = await client.post("/echo", content=b"x" * 2000)

        async def chunks(*parts: bytes):
            for part in parts:
                yield part

        streamed = await client.post("/echo", content=chunks(*[b"x" * 600] * 3))
        streamed_small = await client.post("/echo", content=chunks(b"ab", b"cd"))
    assert small.json() == {"size": 100}
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert json.loads(streamed.content)["error"] == "body_too_large"
    assert streamed_small.json() == {"size": 4}


async def test_no_free_registration_number_is_a_503_with_the_reason():
    api = FastAPI()
    api.add_exception_handler(NumberingError, numbering_failed)  # type: ignore[arg-type]

    @api.post("/appeals")
    async def register() -> None:
        raise NumberingError("5 registration numbers in a row are held by stored appeals")

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/appeals")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert response.json()["error"] == "registration_numbers_unavailable"
    assert "held by stored appeals" in response.json()["message"]
