"""Every intake channel on the real broker and store: Open311, hotline, ЕДДС, social, import."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from georeport import GeoReport
from veche_ingest.app import create_app
from veche_ingest.http.channels import sign
from veche_ingest.settings import IngestSettings
from veche_shared.events import AppealReceivedV1
from veche_shared.testing.app_runner import serving
from veche_shared.testing.kafka_tools import TopicReader
from veche_shared.topics import APPEALS_RECEIVED

pytestmark = pytest.mark.integration

DEV_KEY = "test-dev-key-0123456789"
SOCIAL_SECRET = "vk-shared-secret"


@pytest.fixture(scope="module")
def settings(infra, topics) -> IngestSettings:
    return IngestSettings(
        namespace=topics,
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_url=infra.mongo_url,
        open311_dev_key=DEV_KEY,
        social_secrets={"vk": SOCIAL_SECRET, "pos": "pos-secret"},
    )


@pytest.fixture(scope="module")
async def ingest(settings):
    async with (
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def georeport(ingest):
    return GeoReport(f"{str(ingest.base_url).rstrip('/')}/open311/v2", api_key=DEV_KEY)


async def received_events(settings: IngestSettings, count: int) -> list[AppealReceivedV1]:
    async with TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_RECEIVED)) as r:
        records = await r.wait_count(count)
    return [AppealReceivedV1.from_bytes(record.value) for record in records]


# -- Open311 GeoReport v2 -------------------------------------------------------------------


async def test_open311_services_come_from_the_taxonomy_in_json_and_xml(georeport):
    as_json = await asyncio.to_thread(georeport.get_service_list)
    xml_client = GeoReport(georeport.root_address, output_format="xml")
    as_xml = await asyncio.to_thread(xml_client.get_service_list)
    codes = {service["service_code"] for service in as_json}
    assert {"roads", "housing_utilities", "waste", "other"} <= codes
    assert len(codes) == 20
    assert {service["service_code"] for service in as_xml} == codes
    definition = await asyncio.to_thread(georeport.get_service_definition, "roads")
    assert definition == {"service_code": "roads", "attributes": []}


async def test_open311_post_then_read_back_with_a_real_client(ingest, georeport, settings):
    form = {
        "api_key": DEV_KEY,
        "service_code": "roads",
        "description": "Глубокая яма на дороге у дома 3 по улице Мира в Алексине",
        "address_string": "Алексин, ул. Мира, 3",
        "email": "citizen@example.org",
    }
    created = await ingest.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 201, created.text
    request_id = created.json()[0]["service_request_id"]
    assert request_id.startswith("71-")

    one = await asyncio.to_thread(georeport.get_service_request, request_id)
    assert one["service_request_id"] == request_id
    assert one["service_code"] == "roads"
    assert one["status"] == "open"
    assert "description" not in one  # the citizen's text is personal data: not on the GET side
    listed = await asyncio.to_thread(georeport.get_service_requests, service_code="roads")
    assert request_id in {r["service_request_id"] for r in listed}
    by_id = await asyncio.to_thread(georeport.get_service_requests, service_request_id=request_id)
    assert [r["service_request_id"] for r in by_id] == [request_id]
    closed = await asyncio.to_thread(georeport.get_service_requests, status="closed")
    assert request_id not in {r["service_request_id"] for r in closed}
    xml_one = GeoReport(georeport.root_address, output_format="xml")
    assert (await asyncio.to_thread(xml_one.get_service_request, request_id))[
        "service_request_id"
    ] == request_id

    events = await received_events(settings, 1)
    assert any(e.appeal.registration_number == request_id for e in events)
    event = next(e for e in events if e.appeal.registration_number == request_id)
    assert event.appeal.channel.value == "open311"
    assert event.appeal.topic_hint == "roads"


@pytest.mark.parametrize(
    ("form", "status", "fragment"),
    [
        (
            {"service_code": "roads", "description": "Яма", "lat": "54.2", "long": "37.6"},
            403,
            "api_key",
        ),
        (
            {"api_key": "wrong", "service_code": "roads", "description": "Яма", "lat": "54"},
            403,
            "invalid",
        ),
        (
            {
                "api_key": DEV_KEY,
                "service_code": "ufo",
                "description": "Яма",
                "lat": "54.2",
                "long": "37.6",
            },
            400,
            "service_code",
        ),
        ({"api_key": DEV_KEY, "service_code": "roads", "description": "Яма"}, 400, "location"),
    ],
)
async def test_open311_errors_use_the_spec_format(ingest, form, status, fragment):
    response = await ingest.post("/open311/v2/requests.json", data=form)
    assert response.status_code == status
    [error] = response.json()
    assert error["code"] == status
    assert fragment in error["description"]


async def test_open311_not_found_in_json_and_xml(ingest):
    missing = await ingest.get("/open311/v2/requests/71-2000-999999.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404
    xml = await ingest.get("/open311/v2/services/nope.xml")
    assert xml.status_code == 404
    assert b"<errors><error><code>404</code>" in xml.content
    foreign = await ingest.get("/open311/v2/services.json", params={"jurisdiction_id": "77"})
    assert foreign.status_code == 404


# -- hotline and ЕДДС -----------------------------------------------------------------------


async def test_hotline_needs_an_api_key_and_is_idempotent_by_call_id(ingest):
    call = {
        "call_id": f"HL-{time.time_ns()}",
        "operator_id": "op-17",
        "call_started_at": "2026-11-22T08:15:00+03:00",
        "transcript": "Звонит жительница: в доме 12 по улице Садовой нет отопления.",
        "caller": {"phone": "+7 910 000-00-00"},
    }
    assert (await ingest.post("/channels/hotline/calls", json=call)).status_code == 401
    bad_key = {"X-Api-Key": "nope"}
    assert (
        await ingest.post("/channels/hotline/calls", json=call, headers=bad_key)
    ).status_code == 403
    headers = {"X-Api-Key": DEV_KEY}
    first = await ingest.post("/channels/hotline/calls", json=call, headers=headers)
    again = await ingest.post("/channels/hotline/calls", json=call, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["appeal_id"] == again.json()["appeal_id"]
    assert again.json()["replayed"] is True


async def test_edds_incident_is_at_least_high_urgency_downstream(ingest, settings):
    incident = {
        "incident_id": f"EDDS-{time.time_ns()}",
        "severity": "low",
        "reported_at": "2026-11-22T05:40:00+03:00",
        "description": "Прорыв трубы холодного водоснабжения на улице Ленина, вода заливает дорогу",
    }
    response = await ingest.post(
        "/channels/edds/incidents", json=incident, headers={"X-Api-Key": DEV_KEY}
    )
    assert response.status_code == 201
    appeal_id = response.json()["appeal_id"]
    async with TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_RECEIVED)) as r:
        records = await r.wait_for(lambda rs: any(x.key == appeal_id.encode() for x in rs))
    event = AppealReceivedV1.from_bytes(
        next(x for x in records if x.key == appeal_id.encode()).value
    )
    assert event.appeal.urgency_hint is not None
    assert event.appeal.urgency_hint.value == "high"
    assert event.appeal.channel.value == "edds"


# -- social media / ПОС ---------------------------------------------------------------------


def signed(body: bytes, secret: str = SOCIAL_SECRET, skew: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - skew)
    return {
        "X-Veche-Timestamp": timestamp,
        "X-Veche-Signature": sign(secret.encode(), timestamp, body),
        "content-type": "application/json",
    }


def social_batch(tag: str) -> bytes:
    posts = [
        {
            "post_id": f"{tag}-{n}",
            "author_handle": f"@tula_resident_{n}",
            "url": f"https://vk.com/wall-1_{tag}{n}",
            "text": text,
            "published_at": "2026-11-22T09:00:00+03:00",
        }
        for n, text in enumerate(
            ["Опять не вывезли мусор на Пролетарской, контейнеры переполнены", "Не горит фонарь"]
        )
    ]
    return json.dumps({"posts": posts}, ensure_ascii=False).encode()


async def test_signed_social_batch_registers_each_post_once(ingest):
    body = social_batch(f"ok{time.time_ns()}")
    first = await ingest.post("/channels/social/vk/posts", content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    again = await ingest.post("/channels/social/vk/posts", content=body, headers=signed(body))
    assert [a["replayed"] for a in again.json()["appeals"]] == [True, True]
    assert {a["appeal_id"] for a in again.json()["appeals"]} == {
        a["appeal_id"] for a in first.json()["appeals"]
    }


@pytest.mark.parametrize("attack", ["wrong_secret", "tampered", "stale", "unsigned"])
async def test_bad_signature_is_401_and_stores_nothing(ingest, attack):
    before = (await ingest.get("/appeals", params={"channel": "social", "limit": 1})).json()[
        "total"
    ]
    body = social_batch(f"{attack}{time.time_ns()}")
    headers = {
        "wrong_secret": signed(body, secret="guess"),
        "tampered": signed(body),
        "stale": signed(body, skew=3600),
        "unsigned": {"content-type": "application/json"},
    }[attack]
    sent = body.replace(b"Pro", b"Xro") + b" " if attack == "tampered" else body
    response = await ingest.post("/channels/social/vk/posts", content=sent, headers=headers)
    assert response.status_code == 401
    after = (await ingest.get("/appeals", params={"channel": "social", "limit": 1})).json()["total"]
    assert after == before


async def test_unknown_social_source_is_404_and_malformed_batch_is_422(ingest):
    body = b'{"posts": [{"text": ""}]}'
    assert (
        await ingest.post("/channels/social/tiktok/posts", content=body, headers=signed(body))
    ).status_code == 404
    response = await ingest.post("/channels/social/vk/posts", content=body, headers=signed(body))
    assert response.status_code == 422
    assert "posts.0.text" in {p["field"] for p in response.json()["problems"]}


# -- the appeals API ------------------------------------------------------------------------


async def test_idempotency_key_returns_the_original_under_concurrency_and_after_restart(
    ingest, settings
):
    key = f"portal-{time.time_ns()}"
    body = {"text": "Прошу отремонтировать лавочки в сквере на улице Тургеневской"}
    responses = await asyncio.gather(
        *(ingest.post("/appeals", json=body, headers={"Idempotency-Key": key}) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["appeal_id"] for r in responses}) == 1
    reused = await ingest.post(
        "/appeals", json={"text": "другой текст"}, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"

    async with serving(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as fresh:
        after_restart = await fresh.post("/appeals", json=body, headers={"Idempotency-Key": key})
    assert after_restart.status_code == 200
    assert after_restart.json()["appeal_id"] == responses[0].json()["appeal_id"]


async def test_appeal_list_filters_and_pages(ingest):
    tag = f"list-{time.time_ns()}"
    created = [
        (await ingest.post("/appeals", json={"text": f"Обращение {n} {tag} про дорогу"})).json()
        for n in range(5)
    ]
    since = created[0]["registered_at"]
    page = (
        await ingest.get("/appeals", params={"channel": "portal", "from": since, "limit": 2})
    ).json()
    assert page["total"] >= 5
    assert len(page["items"]) == 2
    assert page["next"] is not None
    following = (await ingest.get(page["next"])).json()
    assert not {i["appeal_id"] for i in page["items"]} & {
        i["appeal_id"] for i in following["items"]
    }
    assert all("text" not in item and "contact" not in item for item in page["items"])
    received = (await ingest.get("/appeals", params={"status": "received", "limit": 200})).json()
    assert {c["appeal_id"] for c in created} <= {i["appeal_id"] for i in received["items"]}
    wrong = await ingest.get("/appeals", params={"status": "lost", "limit": 500})
    assert wrong.status_code == 422
    assert {p["field"] for p in wrong.json()["problems"]} == {"query.status", "query.limit"}


# -- batch import ---------------------------------------------------------------------------


def run_import(settings: IngestSettings, path: Path) -> tuple[int, str]:
    env = {
        **os.environ,
        "VECHE_NAMESPACE": settings.namespace,
        "VECHE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "VECHE_MONGO_URL": settings.mongo_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "veche_ingest", "import", str(path), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


async def test_import_registers_valid_rows_rejects_bad_ones_and_is_rerunnable(
    tmp_path, settings, ingest
):
    tag = time.time_ns()
    csv_file = tmp_path / "appeals.csv"
    csv_file.write_text(
        "external_id,text,email,address\n"
        f"A-{tag}-1,Не вывозят мусор во дворе дома 4,,Тула ул. Пушкинская 4\n"
        f"A-{tag}-2,,x@example.org,\n"
        f",Сломана детская площадка у школы 5,mail@example.org,\n"
        f"A-{tag}-4,Нет света в подъезде,not-an-email,\n",
        encoding="utf-8",
    )
    code, output = await asyncio.to_thread(run_import, settings, csv_file)
    assert code == 1, output
    assert "4 rows: 2 registered, 0 already imported, 2 rejected" in output
    rejects = [
        json.loads(line)
        for line in (tmp_path / "appeals.csv.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [(3, "text"), (5, "email")]

    code, output = await asyncio.to_thread(run_import, settings, csv_file)
    assert "4 rows: 0 registered, 2 already imported, 2 rejected" in output

    jsonl = tmp_path / "appeals.jsonl"
    jsonl.write_text(
        json.dumps({"external_id": f"J-{tag}", "text": "Яма на дороге"}, ensure_ascii=False)
        + "\n{broken\n",
        encoding="utf-8",
    )
    code, output = await asyncio.to_thread(run_import, settings, jsonl)
    assert "2 rows: 1 registered, 0 already imported, 1 rejected" in output
    listed = (await ingest.get("/appeals", params={"channel": "import", "limit": 200})).json()
    assert listed["total"] >= 3


# -- closing: the body's answer -------------------------------------------------------------

ANSWER = {
    "executor_code": "aleksin-admin",
    "organisation": "Администрация муниципального образования город Алексин",
    "level": "municipal",
    "answered_at": "2026-12-01T10:00:00+03:00",
    "outcome": "resolved",
    "answer_ref": "01-12/3456",
}


async def test_answer_closes_the_appeal_once_and_is_published(ingest, georeport, settings):
    from veche_shared.events import AppealAnsweredV1
    from veche_shared.topics import APPEALS_ANSWERED

    created = (
        await ingest.post(
            "/appeals",
            json={"text": "Яма у дома 3 на улице Мира", "contact": {"email": "c@example.org"}},
        )
    ).json()
    url = f"/appeals/{created['appeal_id']}/answer"
    key = {"X-Api-Key": DEV_KEY}
    assert (await ingest.post(url, json=ANSWER)).status_code == 401
    invalid = await ingest.post(url, json={**ANSWER, "outcome": "ignored"}, headers=key)
    assert invalid.status_code == 422
    assert "outcome" in {p["field"] for p in invalid.json()["problems"]}
    missing = "/appeals/6f4deb8c-4263-435a-ac74-86ab8d28432e/answer"
    assert (await ingest.post(missing, json=ANSWER, headers=key)).status_code == 404

    answered_topic = settings.topic_name(APPEALS_ANSWERED)
    async with TopicReader(settings.kafka_bootstrap, answered_topic) as reader:
        first = await ingest.post(url, json=ANSWER, headers=key)
        again = await ingest.post(url, json=ANSWER, headers=key)
        records = await reader.wait_for(
            lambda rs: sum(r.key == created["appeal_id"].encode() for r in rs) >= 2
        )
    assert (first.status_code, again.status_code) == (201, 200)
    other = await ingest.post(url, json={**ANSWER, "outcome": "declined"}, headers=key)
    assert other.status_code == 409
    mine = [
        AppealAnsweredV1.from_bytes(r.value)
        for r in records
        if r.key == created["appeal_id"].encode()
    ]
    assert len({e.event_id for e in mine}) == 1  # a retry republishes the same event
    assert mine[0].appeal.registration_number == created["registration_number"]
    assert created["trace_id"] in dict(records[0].headers)["traceparent"].decode()

    view = (await ingest.get(f"/appeals/{created['appeal_id']}")).json()
    assert view["status"] == "answered"
    assert view["timeline"][-1]["stage"] == "answered"
    closed = await asyncio.to_thread(georeport.get_service_request, created["registration_number"])
    assert closed["status"] == "closed"
