"""An appeal goes in over HTTP and comes out as a notification, in one trace, exactly once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from veche_shared.devtools.otlp_sink import read_spans
from veche_shared.events import AppealNotifiedV1
from veche_shared.kafka import DLQ_ERROR_CLASS, DLQ_ORIGINAL_TOPIC
from veche_shared.testing.kafka_tools import TopicReader, produce, until
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_RECEIVED

from .conftest import DEV_KEY, PORT_OFFSET

pytestmark = pytest.mark.e2e

INGEST = f"http://127.0.0.1:{8000 + PORT_OFFSET}"
TEXTS = [
    "В Алексине на улице Мира огромная яма на дороге, машины бьют колёса",
    "Новомосковск: третий день нет горячей воды в доме 12 по улице Садовой",
    "В Туле во дворе дома 5 на улице Болдина не горят фонари, темно и страшно",
    "Щёкино, бродячие собаки бросаются на детей у школы №3",
]


def appeal(n: int) -> dict:
    return {"text": TEXTS[n % len(TEXTS)], "contact": {"email": f"citizen{n}@example.org"}}


async def post_appeals(client: httpx.AsyncClient, count: int, start: int = 0) -> list[dict]:
    responses = await asyncio.gather(
        *(client.post("/appeals", json=appeal(start + i)) for i in range(count))
    )
    assert [r.status_code for r in responses] == [201] * count
    return [r.json() for r in responses]


ALL_STAGES = {"received", "classified", "routed", "notified"}


async def wait_notified(
    client: httpx.AsyncClient, ids: list[str], timeout: float = 60
) -> dict[str, dict]:
    """Wait until every appeal is notified and its timeline holds every stage.

    Ingest reads each downstream topic with its own consumer, so the status (the furthest stage
    seen) can run ahead of an entry still in flight on a slower topic: the timeline is
    eventually complete, and that is what is waited for.
    """
    views: dict[str, dict] = {}

    async def all_notified() -> bool:
        for appeal_id in ids:
            if appeal_id not in views:
                view = (await client.get(f"/appeals/{appeal_id}")).json()
                stages = {entry["stage"] for entry in view["timeline"]}
                if view["status"] == "notified" and stages == ALL_STAGES:
                    views[appeal_id] = view
        return len(views) == len(ids)

    await until(all_notified, timeout=timeout, interval=0.3)
    return views


def assert_each_stage_once(views: dict[str, dict]) -> None:
    for view in views.values():
        stages = Counter(entry["stage"] for entry in view["timeline"])
        assert stages == {"received": 1, "classified": 1, "routed": 1, "notified": 1}, view


async def test_appeals_reach_notified_exactly_once_in_one_trace(stack, infra, topics):
    async with httpx.AsyncClient(base_url=INGEST, timeout=30) as client:
        started = time.monotonic()
        accepted = await post_appeals(client, 20)
        views = await wait_notified(client, [a["appeal_id"] for a in accepted])
        print(f"20 appeals notified {time.monotonic() - started:.2f} s after the first POST")
    assert_each_stage_once(views)
    for view in views.values():  # who answers, and by when, is visible on the appeal
        routed = next(entry for entry in view["timeline"] if entry["stage"] == "routed")
        assert routed["executor"]
        assert set(routed["deadlines"]) >= {"register_by", "redirect_by", "answer_by"}
        assert view["executor"] == routed["executor"]

    async with TopicReader(infra.kafka_bootstrap, f"{topics}.{APPEALS_NOTIFIED.name}") as reader:
        records = await reader.settle(quiet=2)
    # at least once: a batch redelivered (a rebalance while the services start) republishes the
    # same event, which consumers skip by its id; a second *distinct* event would be a bug
    decoded = (AppealNotifiedV1.from_bytes(r.value) for r in records)
    distinct = {event.event_id: event for event in decoded}
    per_appeal = Counter(str(event.appeal_id) for event in distinct.values())
    print(f"{len(records)} notified records, {len(distinct)} distinct events")
    assert {a["appeal_id"]: per_appeal[a["appeal_id"]] for a in accepted} == {
        a["appeal_id"]: 1 for a in accepted
    }

    trace_id = accepted[0]["trace_id"]

    def services_in_trace() -> set[str] | None:
        services = {s["service"] for s in read_spans(stack.sink_out) if s["trace_id"] == trace_id}
        return services if len(services) == 4 else None

    services = await until(services_in_trace, timeout=20)
    assert services == {"ingest", "classify", "route", "notify"}
    spans = [s for s in read_spans(stack.sink_out) if s["trace_id"] == trace_id]
    names = {s["name"] for s in spans}
    events = [(s["service"], e["name"]) for s in spans for e in s["events"]]
    assert "POST /appeals" in names
    # bulk store calls and letters are events on each appeal's spans, so in its trace too
    for service in ("classify", "route", "notify"):
        assert any(n.startswith("insert_many ") for s, n in events if s == service), service
    assert any(n.startswith("notify send ") for s, n in events if s == "notify")
    # each publish is an event on the span that sent it, no span of its own
    assert (notified_publish := f"{topics}.{APPEALS_NOTIFIED.name} publish") not in names
    assert ("notify", notified_publish) in events
    assert ("ingest", f"{topics}.{APPEALS_RECEIVED.name} publish") in events
    assert not any(n.endswith((" create", " publish")) for n in names)

    def timeline_batches() -> list[dict[str, Any]] | None:
        spans = [
            s
            for s in read_spans(stack.sink_out)
            if s["name"] == "appeal timeline process"
            and trace_id in {link["trace_id"] for link in s["links"]}
        ]
        return spans if spans else None

    # ingest's timeline is a projection: a span a batch in a trace of its own, linked to the
    # traces of the appeals it recorded (classified, routed, notified: one to three batches)
    timeline = await until(timeline_batches, timeout=20)
    assert all(s["trace_id"] != trace_id for s in timeline)
    assert sum(s["attributes"]["messaging.batch.message_count"] for s in timeline) >= 3


async def test_malformed_message_lands_in_the_dlq_while_the_next_valid_one_is_processed(
    stack, infra, topics
):
    source = f"{topics}.{APPEALS_RECEIVED.name}"
    async with TopicReader(infra.kafka_bootstrap, f"{source}.dlq") as dlq:
        await produce(
            infra.kafka_bootstrap, source, [b'{"appeal_id": "broken"'], key=b"same-partition"
        )
        async with httpx.AsyncClient(base_url=INGEST, timeout=30) as client:
            accepted = await post_appeals(client, 1)
            await wait_notified(client, [accepted[0]["appeal_id"]])
        dead = await dlq.wait_count(1)
    headers = {key: value.decode() for key, value in dead[0].headers}
    assert headers[DLQ_ORIGINAL_TOPIC] == source
    assert headers[DLQ_ERROR_CLASS]


@pytest.mark.parametrize(
    ("service", "sig"), [("classify", signal.SIGKILL), ("route", signal.SIGTERM)]
)
async def test_restarting_a_service_while_appeals_flow_loses_none(stack, service, sig):
    async with httpx.AsyncClient(base_url=INGEST, timeout=30) as client:

        async def steady_flow() -> list[dict]:
            accepted = []
            for wave in range(8):
                accepted += await post_appeals(client, 5, start=wave * 5)
                await asyncio.sleep(0.25)
            return accepted

        flow = asyncio.create_task(steady_flow())
        await asyncio.sleep(0.6)
        await asyncio.to_thread(stack.stop, service, 20.0, sig)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(stack.start, service)
        await asyncio.to_thread(stack.wait_ready, service, 60.0)
        accepted = await flow
        views = await wait_notified(client, [a["appeal_id"] for a in accepted], timeout=120)
    assert len(views) == 40
    assert_each_stage_once(views)


async def test_the_answer_closes_the_appeal_and_the_citizen_is_told_once(stack):
    async with httpx.AsyncClient(base_url=INGEST, timeout=30) as client:
        [accepted] = await post_appeals(client, 1)
        appeal_id = accepted["appeal_id"]
        await wait_notified(client, [appeal_id])
        answer = {
            "executor_code": "aleksin-admin",
            "organisation": "Администрация муниципального образования город Алексин",
            "answered_at": "2026-12-01T10:00:00+03:00",
            "outcome": "resolved",
        }
        headers = {"X-Api-Key": DEV_KEY}
        for _ in range(2):  # a retried answer closes once and notifies once
            response = await client.post(
                f"/appeals/{appeal_id}/answer", json=answer, headers=headers
            )
            assert response.status_code in (200, 201)

        async def answered_and_told() -> dict | None:
            view = (await client.get(f"/appeals/{appeal_id}")).json()
            told = [
                n
                for entry in view["timeline"]
                if entry["stage"] == "notified"
                for n in entry["notifications"]
                if n["kind"] == "answered"
            ]
            return view if view["status"] == "answered" and told else None

        view = await until(answered_and_told, timeout=60)
    told = [
        n
        for entry in view["timeline"]
        if entry["stage"] == "notified"
        for n in entry["notifications"]
        if n["kind"] == "answered"
    ]
    assert len(told) == 1
    assert told[0]["recipient"] == "citizen"
    assert told[0]["status"] == "sent"  # delivered to the local mail sink over SMTP
