"""A process that dies mid-send, then the same events redelivered: no duplicate, no silent loss.

Here with ``VECHE_EMAIL_RECONCILE=unknown`` and webhooks; the default (``resend``) is proven by
killing the real service process in test_kill_mid_send.py. The first "process" here runs notify's
own planning, recording and delivery code against the real store, SMTP server and webhook
receiver, and dies (an exception where the store write of the results would be). The real
service then receives the same events, as Kafka redelivers a batch whose offsets were never
committed.
"""

import uuid
from collections import Counter

import pytest
from veche_notify.app import create_app
from veche_notify.delivery import Deliverer
from veche_notify.domain.plan import Subscription, plan_routed
from veche_notify.domain.render import Renderer
from veche_notify.handlers import notification_document
from veche_notify.storage import NotifyStore
from veche_shared.events import AppealNotifiedV1
from veche_shared.testing.app_runner import serving
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_ROUTED

from ..unit.factories import routed
from .helpers import servers

pytestmark = pytest.mark.integration
SECRET = "municipal-shared-secret"


class ProcessKilledError(Exception):
    pass


class DiesBeforeRecordingResults(NotifyStore):
    async def finish(self, results, *, linger=False):
        if results:
            raise ProcessKilledError("killed after sending, before recording the results")


async def first_run(store, settings, event, subscription, stop_at):
    """Record and claim like the service does, then die at the given point."""
    planned = plan_routed(event, [subscription])
    documents = [notification_document(p, Renderer(), event) for p in planned]
    if stop_at == "recorded-claimed":  # the service's own insert: claimed by it, then died
        claimed = Deliverer(settings, store).claim_on_insert(
            documents, "dead-process", documents[0]["created_at"]
        )
        await store.record_notifications(claimed)
        return
    await store.record_notifications(documents)
    if stop_at == "recorded":
        return
    keys = [p.key for p in planned]
    if stop_at == "claimed":  # died after storing "sending", before anything left
        await store.claim(documents, "dead-process", documents[0]["created_at"])
        return
    dying = DiesBeforeRecordingResults(store.db.client, settings.database)
    with pytest.raises(ProcessKilledError):
        await Deliverer(settings, dying).settle(
            list((await store.load(keys)).values()), {subscription.subscription_id: SECRET}
        )


async def redeliver(env, settings, events):
    async with (
        serving(create_app(settings)),
        TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_NOTIFIED)) as out,
    ):
        await produce(
            settings.kafka_bootstrap,
            settings.topic_name(APPEALS_ROUTED),
            [e.to_bytes() for e in events],
        )
        wanted = {str(e.appeal_id) for e in events}

        def reported(records):
            return wanted <= {str(AppealNotifiedV1.from_bytes(r.value).appeal_id) for r in records}

        await out.wait_for(reported, timeout=90)
        records = await out.settle(quiet=1.5)
    notified = (AppealNotifiedV1.from_bytes(r.value) for r in records)
    return {str(n.appeal_id): n for n in notified if str(n.appeal_id) in wanted}


def statuses(notified: AppealNotifiedV1) -> dict[tuple[str, str], str]:
    return {(n.kind, n.channel): n.status.value for n in notified.notifications}


async def test_crash_between_send_and_commit_sends_nothing_twice_and_loses_nothing(
    infra, topics, mongo, tmp_path
):
    async with servers(tmp_path) as env:
        # the cautious setting: an interrupted letter is reported, never resent (the default,
        # resend, is proven by a real kill in test_kill_mid_send.py)
        settings = env.settings(topics, infra, email_reconcile="unknown")
        store = NotifyStore(mongo, settings.database)
        subscription = Subscription(
            str(uuid.uuid4()), f"{env.http}/hook", frozenset({"appeal.routed"})
        )
        await store.add_subscription(
            {
                "_id": subscription.subscription_id,
                "url": subscription.url,
                "event_types": ["appeal.routed"],
                "secret": SECRET,
                "created_at": uuid.uuid1().time,
            }
        )
        sent_then_died = routed(redirected=False, appeal_id=str(uuid.uuid4()), sequence=1)
        claimed_then_died = routed(redirected=False, appeal_id=str(uuid.uuid4()), sequence=2)
        recorded_then_died = routed(redirected=False, appeal_id=str(uuid.uuid4()), sequence=3)
        inserted_claimed_then_died = routed(
            redirected=False, appeal_id=str(uuid.uuid4()), sequence=4
        )
        await first_run(store, settings, sent_then_died, subscription, "sent")
        await first_run(store, settings, claimed_then_died, subscription, "claimed")
        await first_run(store, settings, recorded_then_died, subscription, "recorded")
        await first_run(
            store, settings, inserted_claimed_then_died, subscription, "recorded-claimed"
        )
        letters_before = Counter(x.subject for x in env.letters())
        assert sum(letters_before.values()) == 2  # the first run did send its two letters

        notified = await redeliver(
            env,
            settings,
            [sent_then_died, claimed_then_died, recorded_then_died, inserted_claimed_then_died],
        )

        letters = Counter(x.subject for x in env.letters())
        hooks = Counter(r.headers["x-veche-delivery"] for r in env.recorder.to("/hook"))

    sent_id, claimed_id, recorded_id, inserted_claimed_id = (
        str(e.appeal_id)
        for e in (sent_then_died, claimed_then_died, recorded_then_died, inserted_claimed_then_died)
    )
    # sent, then died: the letters are not sent again; SMTP cannot confirm, so "unknown"
    assert statuses(notified[sent_id]) == {
        ("registered", "email"): "unknown",
        ("assigned", "email"): "unknown",
        ("webhook", "webhook"): "sent",
    }
    assert all(n == 1 for n in letters.values()), letters
    assert "71-2026-000001" in " ".join(letters)
    # the webhook is resent with the same delivery id: the receiver keeps one
    assert (
        hooks[f"{sent_id}:webhook.appeal.routed:subscriber:{subscription.subscription_id}:webhook"]
        == 2
    )
    # claimed, then died before anything left: webhook delivered; e-mail reported, not guessed
    assert statuses(notified[claimed_id])[("webhook", "webhook")] == "sent"
    assert statuses(notified[claimed_id])[("registered", "email")] == "unknown"
    assert not any("71-2026-000002" in subject for subject in letters)
    # recorded, then died before claiming: everything goes out normally, once
    assert set(statuses(notified[recorded_id]).values()) == {"sent"}
    assert sum("71-2026-000003" in subject for subject in letters) == 2
    assert sum(1 for key in hooks if key.startswith(recorded_id)) == 1
    # recorded already claimed (as the service records), then died before anything left: the
    # same as a claim document — webhook delivered, e-mail reported, not guessed
    assert statuses(notified[inserted_claimed_id])[("webhook", "webhook")] == "sent"
    assert statuses(notified[inserted_claimed_id])[("registered", "email")] == "unknown"
    assert not any("71-2026-000004" in subject for subject in letters)
    assert sum(letters.values()) == 4
    reasons = {n.reason for n in notified[sent_id].notifications if n.status.value == "unknown"}
    assert reasons == {"interrupted mid-send; the channel cannot confirm delivery, not resent"}
