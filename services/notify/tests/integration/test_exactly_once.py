"""Each notification kind arrives once — through a redelivered batch and a second redelivery."""

import uuid
from collections import Counter

import httpx
import pytest
from veche_notify.api import create_api
from veche_notify.app import create_app
from veche_notify.domain.signing import verify
from veche_notify.settings import NotifySettings
from veche_notify.storage import NotifyStore
from veche_shared.events import AppealNotifiedV1, DeadlineKind
from veche_shared.testing.app_runner import serving
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_DEADLINE, APPEALS_NOTIFIED, APPEALS_ROUTED

from ..unit.factories import deadline, routed
from .helpers import servers

pytestmark = pytest.mark.integration


async def test_each_kind_arrives_once_and_a_redelivered_event_sends_nothing_twice(
    infra, topics, mongo, tmp_path
):
    email_citizen, phone_citizen = str(uuid.uuid4()), str(uuid.uuid4())
    routed_events = [
        routed(copies=True, appeal_id=email_citizen, sequence=1),
        routed(email=None, phone="8 (910) 123-45-67", appeal_id=phone_citizen, sequence=2),
    ]
    deadline_events = [
        deadline(DeadlineKind.DUE_SOON, appeal_id=email_citizen),
        deadline(DeadlineKind.OVERDUE, appeal_id=email_citizen),
        deadline(DeadlineKind.EXTENDED, appeal_id=email_citizen),
    ]
    async with servers(tmp_path) as env:
        settings = env.settings(topics, infra)
        bootstrap = infra.kafka_bootstrap
        async with (
            serving(create_app(settings)) as notify,
            TopicReader(bootstrap, settings.topic_name(APPEALS_NOTIFIED)) as out,
            httpx.AsyncClient(base_url=notify) as client,
        ):
            created = await client.post(
                "/webhooks/subscriptions",
                json={
                    "url": f"{env.http}/hook",
                    "event_types": ["appeal.routed", "appeal.deadline"],
                    "secret": "municipal-shared-secret",
                },
            )
            assert created.status_code == 201, created.text
            listed = (await client.get("/webhooks/subscriptions")).json()
            assert [s["id"] for s in listed] == [created.json()["id"]]
            assert "secret" not in listed[0]

            # every event twice in one batch, then all again later: at-least-once delivery
            for _ in range(2):
                await produce(
                    bootstrap,
                    settings.topic_name(APPEALS_ROUTED),
                    [e.to_bytes() for e in routed_events for _ in range(2)],
                )
                await produce(
                    bootstrap,
                    settings.topic_name(APPEALS_DEADLINE),
                    [e.to_bytes() for e in deadline_events for _ in range(2)],
                )
            await out.wait_count(20, timeout=90)
            records = await out.settle(quiet=2)

    notified = [AppealNotifiedV1.from_bytes(r.value) for r in records]
    assert len(notified) == 20
    assert len({n.event_id for n in notified}) == 5  # one outcome per incoming event, republished
    statuses = Counter(
        (n.kind, n.recipient_role.value, n.channel, n.status.value)
        for event in {n.event_id: n for n in notified}.values()
        for n in event.notifications
    )
    assert statuses == {
        ("registered", "citizen", "email", "sent"): 1,
        ("redirected", "citizen", "email", "sent"): 1,
        ("assigned", "executor", "email", "sent"): 3,  # two bodies + the SMS citizen's executor
        ("registered", "citizen", "sms", "sent"): 1,
        ("redirected", "citizen", "sms", "sent"): 1,
        ("due_soon", "executor", "email", "sent"): 1,
        ("overdue", "supervisor", "email", "sent"): 1,
        ("extended", "citizen", "email", "sent"): 1,
        ("webhook", "subscriber", "webhook", "sent"): 5,
    }

    letters = env.letters()
    assert len(letters) == 8
    assert len({letter.message_id for letter in letters}) == 8
    by_subject = Counter(letter.to for letter in letters)
    assert by_subject["citizen@example.org"] == 3  # registered, redirected, extended
    assert by_subject["control@tula.example.gov.ru"] == 1  # the overdue escalation
    registered = next(x for x in letters if "зарегистрировано" in x.subject)
    assert "71-2026-000001" in registered.subject
    assert "Администрация города Алексин" in registered.body

    sms = env.recorder.to("/sms")
    assert len(sms) == 2
    assert {r.headers["idempotency-key"] for r in sms} == {
        f"{phone_citizen}:registered:citizen:citizen:sms",
        f"{phone_citizen}:redirected:citizen:citizen:sms",
    }
    assert all(b'"to":"+79101234567"' in r.body.replace(b" ", b"") for r in sms)

    hooks = env.recorder.to("/hook")
    assert len(hooks) == 5
    assert len({r.headers["x-veche-delivery"] for r in hooks}) == 5
    for request in hooks:
        assert verify(
            "municipal-shared-secret",
            request.body,
            request.headers["x-veche-timestamp"],
            request.headers["x-veche-signature"],
        )
        assert b"citizen@example.org" not in request.body
        assert b"+7910" not in request.body

    stored = mongo[settings.database]["notifications"]
    assert await stored.count_documents({}) == 15
    keys = [d["_id"] async for d in stored.find({}, {"_id": 1})]
    states = await NotifyStore(mongo, settings.database).load(keys)
    assert Counter((d["status"], d["attempts"]) for d in states.values()) == {("sent", 1): 15}
    # state changes are inserts, nothing updated: each notification was claimed by its own
    # insert (no claim document), then one result each
    assert all(d.get("claim") for d in states.values())
    assert await mongo[settings.database]["deliveries"].count_documents({}) == 15


async def test_subscription_api_rejects_bad_input_with_the_reason(infra, topics, mongo):
    # the HTTP API alone on the real store: no Kafka consumer to join a group for
    store = NotifyStore(mongo, NotifySettings(namespace=topics).database)
    async with (
        serving(create_api(store)) as notify,
        httpx.AsyncClient(base_url=notify) as client,
    ):
        unknown = await client.post(
            "/webhooks/subscriptions",
            json={"url": "http://mun.example/hook", "event_types": ["appeal.secret"]},
        )
        assert unknown.status_code == 422
        assert "unknown event types" in unknown.text
        bad_url = await client.post(
            "/webhooks/subscriptions", json={"url": "mun", "event_types": ["appeal.routed"]}
        )
        assert bad_url.status_code == 422
        assert (await client.get("/webhooks/subscriptions/nope")).status_code == 404
        generated = await client.post(
            "/webhooks/subscriptions",
            json={
                "url": "http://mun.example/hook",
                "event_types": ["appeal.deadline", "appeal.answered"],
            },
        )
        assert len(generated.json()["secret"]) >= 32
        subscription = generated.json()["id"]
        assert (await client.delete(f"/webhooks/subscriptions/{subscription}")).status_code == 204
        assert (await client.get(f"/webhooks/subscriptions/{subscription}")).status_code == 404
