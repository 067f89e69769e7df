"""Delivery states are unique inserts: two consumers racing for the same notifications (a
partition rebalance) split them, each won exactly once, and the first result recorded stands."""

import asyncio
import uuid

import pytest
from veche_notify.domain.plan import Subscription, plan_routed
from veche_notify.domain.render import Renderer
from veche_notify.handlers import notification_document
from veche_notify.settings import NotifySettings
from veche_notify.storage import NotifyStore
from veche_shared.events import utc_now

from ..unit.factories import routed

pytestmark = pytest.mark.integration


async def recorded_notifications(store: NotifyStore, appeals: int) -> list[dict]:
    hook = Subscription("s1", "http://127.0.0.1:9/hook", frozenset({"appeal.routed"}))
    documents = []
    for n in range(appeals):
        event = routed(redirected=False, appeal_id=str(uuid.uuid4()), sequence=n)
        documents += [
            notification_document(p, Renderer(), event) for p in plan_routed(event, [hook])
        ]
    await store.record_notifications(documents)
    return documents


async def test_racing_claims_win_each_notification_once(topics, mongo):
    store = NotifyStore(mongo, NotifySettings(namespace=topics).database)
    documents = await recorded_notifications(store, appeals=10)

    first, second = await asyncio.gather(
        store.claim(documents, "consumer-a", utc_now()),
        store.claim(list(reversed(documents)), "consumer-b", utc_now()),
    )

    won = [d["_id"] for d in first] + [d["_id"] for d in second]
    assert sorted(won) == sorted(d["_id"] for d in documents)  # each exactly once
    states = await store.load(d["_id"] for d in documents)
    owner = {d["_id"]: "consumer-a" for d in first} | {d["_id"]: "consumer-b" for d in second}
    assert {k: s["claim"] for k, s in states.items()} == owner
    assert {s["status"] for s in states.values()} == {"sending"}


async def test_the_first_recorded_result_stands(topics, mongo):
    store = NotifyStore(mongo, NotifySettings(namespace=topics).database)
    documents = await recorded_notifications(store, appeals=1)
    key = documents[0]["_id"]

    await asyncio.gather(
        store.finish([(key, {"status": "sent", "attempts": 1})]),
        store.finish([(documents[1]["_id"], {"status": "failed", "attempts": 2})]),
    )
    await store.finish([(key, {"status": "unknown", "attempts": 0})])

    states = await store.load([key, documents[1]["_id"], documents[2]["_id"]])
    assert (states[key]["status"], states[key]["attempts"]) == ("sent", 1)
    assert states[documents[1]["_id"]]["status"] == "failed"
    assert states[documents[2]["_id"]]["status"] == "pending"  # never claimed, never finished


async def test_subscriptions_are_reread_after_the_interval_and_at_once_after_a_local_change(
    topics, mongo, monkeypatch
):
    store = NotifyStore(mongo, NotifySettings(namespace=f"{topics}subs").database)
    assert await store.current_subscriptions() == []
    other_replica = {"_id": "s-other", "url": "http://127.0.0.1:9/a", "created_at": utc_now()}
    await store.subscriptions.insert_one(other_replica)
    assert await store.current_subscriptions() == []  # within the interval: the batch's read

    await store.add_subscription(
        {"_id": "s-local", "url": "http://127.0.0.1:9/b"} | {"created_at": utc_now()}
    )
    assert [d["_id"] for d in await store.current_subscriptions()] == ["s-other", "s-local"]

    await store.subscriptions.delete_one({"_id": "s-other"})
    monkeypatch.setattr("veche_notify.storage.SUBSCRIPTIONS_FRESH_S", 0.0)
    assert [d["_id"] for d in await store.current_subscriptions()] == ["s-local"]
