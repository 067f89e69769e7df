"""Retries stop at the limit and land in the dead-letter topic with the reason; no 4xx retries."""

import uuid

import httpx
import pytest
from veche_notify.app import create_app
from veche_shared.events import AppealNotifiedV1
from veche_shared.kafka import DLQ_ATTEMPTS, DLQ_ERROR_CLASS, DLQ_ERROR_MESSAGE, record_headers
from veche_shared.testing.app_runner import serving
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_ROUTED

from ..unit.factories import routed
from .helpers import servers

pytestmark = pytest.mark.integration


async def test_retries_stop_at_the_limit_and_failures_land_in_the_dlq_once(
    infra, topics, mongo, tmp_path
):
    event = routed(email=None, phone="+79101234567", appeal_id=str(uuid.uuid4()))
    async with servers(tmp_path) as env:
        env.recorder.always["/broken"] = 503  # a receiver that is down: retried, then given up
        env.recorder.script["/flaky"] = [429, 500]  # busy, then fine: retried until it works
        env.recorder.always["/sms"] = 400  # the gateway rejects the request: never retried
        settings = env.settings(topics, infra, delivery_attempts=3)
        bootstrap = infra.kafka_bootstrap
        async with (
            serving(create_app(settings)) as notify,
            TopicReader(bootstrap, settings.topic_name(APPEALS_NOTIFIED)) as out,
            TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED.dlq)) as dlq,
            httpx.AsyncClient(base_url=notify) as client,
        ):
            hooks = {}
            for path in ("/broken", "/flaky"):
                created = await client.post(
                    "/webhooks/subscriptions",
                    json={"url": f"{env.http}{path}", "event_types": ["appeal.routed"]},
                )
                hooks[path] = created.json()["id"]
            await produce(bootstrap, settings.topic_name(APPEALS_ROUTED), [event.to_bytes()])
            await out.wait_count(1, timeout=90)
            await dlq.wait_count(3, timeout=30)
            # redelivered: final states are only reported, nothing is sent or dead-lettered again
            await produce(bootstrap, settings.topic_name(APPEALS_ROUTED), [event.to_bytes()])
            await out.wait_count(2, timeout=60)
            notified = [AppealNotifiedV1.from_bytes(r.value) for r in await out.settle(quiet=2)]
            dead = await dlq.settle(quiet=1)

        requests = {path: len(env.recorder.to(path)) for path in ("/broken", "/flaky", "/sms")}
        letters = env.letters()

    assert requests == {"/broken": 3, "/flaky": 3, "/sms": 2}  # 2 SMS kinds, one try each
    assert len(letters) == 1  # the executor's assignment
    assert notified[0].event_id == notified[1].event_id
    report = {
        (n.kind, n.channel, n.recipient_role.value): (n.status.value, n.attempts, n.reason)
        for n in notified[0].notifications
        if n.channel != "webhook"
    }
    assert report == {
        ("registered", "sms", "citizen"): ("failed", 1, "HTTP 400"),
        ("redirected", "sms", "citizen"): ("failed", 1, "HTTP 400"),
        ("assigned", "email", "executor"): ("sent", 1, None),
    }
    webhooks = sorted(
        (n.status.value, n.attempts, n.reason)
        for n in notified[0].notifications
        if n.channel == "webhook"
    )
    assert webhooks == [("gave_up", 3, "HTTP 503"), ("sent", 3, None)]

    assert len(dead) == 3
    letters_of_death = {
        record_headers(r)["x-veche-notification-id"]: record_headers(r) for r in dead
    }
    broken_key = f"{event.appeal_id}:webhook.appeal.routed:subscriber:{hooks['/broken']}:webhook"
    gave_up = letters_of_death[broken_key]
    assert gave_up[DLQ_ERROR_CLASS].endswith("NotificationGaveUpError")
    assert gave_up[DLQ_ERROR_MESSAGE] == "webhook webhook: HTTP 503"
    assert gave_up[DLQ_ATTEMPTS] == "3"
    refused = letters_of_death[f"{event.appeal_id}:registered:citizen:citizen:sms"]
    assert refused[DLQ_ERROR_CLASS].endswith("NotificationFailedError")
    assert refused[DLQ_ERROR_MESSAGE] == "sms registered: HTTP 400"
    assert all(r.value == event.to_bytes() for r in dead)  # the original event, replayable
    assert not any("79101234567" in str(record_headers(r)) for r in dead)
