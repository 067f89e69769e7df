"""Ingest on the real broker and store: register, publish with trace context, keep the timeline."""

import asyncio

import httpx
import pytest
from veche_ingest.app import create_app
from veche_ingest.settings import IngestSettings
from veche_shared.events import AppealClassifiedV1, AppealReceivedV1, Classification, Urgency
from veche_shared.testing.app_runner import serving
from veche_shared.testing.kafka_tools import TopicReader, produce, until
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

pytestmark = pytest.mark.integration

APPEAL = {
    "text": "Во дворе дома 5 на улице Мира в Алексине не горят фонари",
    "contact": {"email": "a@example.org"},
}


@pytest.fixture(scope="module")
async def ingest(infra, topics):
    settings = IngestSettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    async with (
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client, settings


async def test_post_registers_publishes_and_reports_the_trace(ingest, infra):
    client, settings = ingest
    async with TopicReader(infra.kafka_bootstrap, settings.topic_name(APPEALS_RECEIVED)) as reader:
        response = await client.post("/appeals", json=APPEAL)
        assert response.status_code == 201
        body = response.json()
        records = await reader.wait_for(
            lambda rs: any(
                AppealReceivedV1.from_bytes(r.value).appeal_id.hex
                == body["appeal_id"].replace("-", "")
                for r in rs
            )
        )
    record = next(r for r in records if body["appeal_id"].encode() == r.key)
    headers = dict(record.headers)
    assert body["trace_id"] in headers["traceparent"].decode()
    assert body["registration_number"].startswith("71-")
    status = (await client.get(f"/appeals/{body['appeal_id']}")).json()
    assert status["status"] == "received"
    assert status["trace_id"] == body["trace_id"]


async def test_downstream_events_advance_the_status(ingest, infra):
    client, settings = ingest
    body = (await client.post("/appeals", json=APPEAL)).json()
    received = AppealReceivedV1.model_validate(
        {
            "appeal_id": body["appeal_id"],
            "appeal": {
                "registration_number": body["registration_number"],
                "registered_at": body["registered_at"],
                "region_code": "71",
                "channel": "portal",
                "text": APPEAL["text"],
            },
        }
    )
    classified = AppealClassifiedV1(
        appeal_id=received.appeal_id,
        appeal=received.appeal,
        classification=Classification(
            topic="improvement", confidence=0.8, urgency=Urgency.MEDIUM, classifier="t"
        ),
    )
    topic = settings.topic_name(APPEALS_CLASSIFIED)
    await produce(
        infra.kafka_bootstrap, topic, [classified.to_bytes(), classified.to_bytes()]
    )  # redelivered

    async def classified_once():
        view = (await client.get(f"/appeals/{body['appeal_id']}")).json()
        return view if view["status"] == "classified" else None

    view = await until(classified_once, timeout=30)
    assert [e["stage"] for e in view["timeline"]] == [
        "received",
        "classified",
    ]  # the duplicate is a no-op


async def test_registration_numbers_are_unique_and_gap_free_under_concurrency(ingest):
    client, _ = ingest
    responses = await asyncio.gather(*(client.post("/appeals", json=APPEAL) for _ in range(50)))
    assert {r.status_code for r in responses} == {201}
    numbers = sorted(int(r.json()["registration_number"].rsplit("-", 1)[1]) for r in responses)
    assert numbers == list(range(numbers[0], numbers[0] + 50))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "ok", "contact": {"email": "nope"}}, "contact.email"),
        ({"text": "ok", "location": {"lat": 123}}, "location.lat"),
    ],
)
async def test_invalid_appeal_is_422_naming_the_field(ingest, body, field):
    client, _ = ingest
    response = await client.post("/appeals", json=body)
    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["problems"]]


async def test_oversized_body_is_413(ingest):
    client, _ = ingest
    response = await client.post(
        "/appeals", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_unknown_appeal_is_404_and_probes_answer(ingest):
    client, _ = ingest
    assert (await client.get("/appeals/6f4deb8c-4263-435a-ac74-86ab8d28432e")).status_code == 404
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.json() == {"ready": True, "checks": {"broker": "ok", "store": "ok"}}
    metrics = (await client.get("/metrics")).text
    assert "faststream_received_messages_total" in metrics
    assert 'veche_event_loop_lag_seconds_count{service="ingest"}' in metrics
    store = 'commands_total{collection="appeals",command="find",outcome="ok",service="ingest"}'
    assert store in metrics
    assert (await client.get("/docs/asyncapi")).status_code == 200
