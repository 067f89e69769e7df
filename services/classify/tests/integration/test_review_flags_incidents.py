"""Review queue, corrections, moderation flags and incident linking on real Kafka + FerretDB."""

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import pytest
from veche_classify.app import create_app
from veche_classify.settings import ClassifySettings
from veche_classify.storage import ClassifyStore
from veche_shared import pipeline
from veche_shared.events import AppealClassifiedV1, AppealReceivedV1, utc_now
from veche_shared.testing.app_runner import serving
from veche_shared.testing.events import received
from veche_shared.testing.kafka_tools import TopicReader, produce, until
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

pytestmark = pytest.mark.integration


def _settings(infra, namespace: str, **overrides: object) -> ClassifySettings:
    return ClassifySettings(
        namespace=namespace,
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_url=infra.mongo_url,
        **overrides,
    )


def _by_appeal(reader: TopicReader) -> dict[str, list[AppealClassifiedV1]]:
    out: dict[str, list[AppealClassifiedV1]] = {}
    for record in reader.records:
        event = AppealClassifiedV1.from_bytes(record.value)
        out.setdefault(str(event.appeal_id), []).append(event)
    return out


async def _classify(settings: ClassifySettings, events: list[AppealReceivedV1], reader):
    await produce(
        settings.kafka_bootstrap,
        settings.topic_name(APPEALS_RECEIVED),
        [e.to_bytes() for e in events],
    )
    wanted = {str(e.appeal_id) for e in events}
    await reader.wait_for(lambda _: wanted <= set(_by_appeal(reader)), timeout=60)
    return _by_appeal(reader)


async def test_review_queue_correction_reemits_and_flags(infra, topics, mongo):
    # a threshold above any plausible confidence: the clear appeal goes to review for low
    # confidence alone (no flags), which is what the operator queue is for
    settings = _settings(infra, topics, review_threshold=0.999)
    low = received(text="Во дворе дома на улице Пушкина третью неделю не вывозят мусор")
    obscene = received(text="Да сколько можно, бля, яма на дороге у дома опять не заделана")
    threat = received(text="Если не почините отопление в нашем доме, я подожгу вашу контору")
    async with (
        serving(create_app(settings)) as base,
        TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)) as out,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        first = await _classify(settings, [low, obscene, threat], out)
        decision = first[str(low.appeal_id)][0].classification
        assert decision.needs_review
        assert decision.flags == ()
        assert decision.confidence < settings.review_threshold

        # flags travel on the event and put the appeal in the queue whatever the confidence
        assert "obscene" in first[str(obscene.appeal_id)][0].classification.flags
        assert "threat" in first[str(threat.appeal_id)][0].classification.flags
        assert first[str(threat.appeal_id)][0].classification.needs_review

        queue = (await http.get("/review", params={"status": "open"})).json()
        listed = {item["appeal_id"]: item for item in queue}
        assert set(listed) >= {str(low.appeal_id), str(obscene.appeal_id), str(threat.appeal_id)}
        assert listed[str(low.appeal_id)]["topic"] == decision.topic
        assert listed[str(low.appeal_id)]["classifier"] == decision.classifier

        corrected_topic = "waste" if decision.topic != "waste" else "improvement"
        response = await http.post(
            f"/review/{low.appeal_id}/correction",
            json={"topic": corrected_topic, "urgency": "high", "operator": "op-7"},
        )
        assert response.status_code == 201, response.text
        correction = response.json()

        await out.wait_for(lambda _: len(_by_appeal(out)[str(low.appeal_id)]) == 2, timeout=30)
        reemitted = _by_appeal(out)[str(low.appeal_id)][1]
        assert str(reemitted.event_id) == correction["event_id"]
        assert reemitted.classification.corrected is True
        assert reemitted.classification.topic == corrected_topic
        assert reemitted.classification.urgency.value == "high"
        assert reemitted.classification.classifier == "operator:op-7"
        assert not reemitted.classification.needs_review

        db = mongo[settings.database]
        feedback = await db["feedback"].find_one({"_id": correction["correction_id"]})
        assert feedback is not None
        assert (feedback["topic"], feedback["urgency"]) == (corrected_topic, "high")
        assert feedback["model_topic"] == decision.topic
        assert feedback["text"] == low.appeal.text
        store = ClassifyStore(mongo, settings.database)
        assert (low.appeal.text, corrected_topic, "high") in await store.feedback_examples()

        open_ids = {i["appeal_id"] for i in (await http.get("/review")).json()}
        labelled = (await http.get("/review", params={"status": "labelled"})).json()
        assert str(low.appeal_id) not in open_ids
        assert [i["appeal_id"] for i in labelled] == [str(low.appeal_id)]

        unknown_topic = await http.post(
            f"/review/{obscene.appeal_id}/correction", json={"topic": "weather", "urgency": "low"}
        )
        assert unknown_topic.status_code == 422
        assert "weather" in unknown_topic.text
        never_seen = await http.post(
            f"/review/{received().appeal_id}/correction", json={"topic": "roads", "urgency": "low"}
        )
        assert never_seen.status_code == 404


async def test_near_duplicates_share_one_incident_across_two_consumers(infra, topics, mongo):
    """Two service instances in one consumer group split the partitions between them; every
    near-duplicate pair must still end up in one incident, whichever instance saw which half."""
    settings = _settings(infra, topics)
    streets = ["Металлургов", "Болдина", "Октябрьской", "Кирова", "Пушкинской", "Марата"]
    pairs = []
    for i, street in enumerate(streets):
        at = received().appeal.registered_at + timedelta(minutes=i)
        first = received(
            text=f"На улице {street} огромная яма на дороге, машины бьют колёса", registered_at=at
        )
        second = received(
            text=f"огромные ямы на дороге по улице {street}, колеса разбиваем каждый день",
            registered_at=at + timedelta(minutes=30),
        )
        pairs.append((first, second))
    unrelated = received(text="На улице Металлургов не горят фонари, вечером темно")
    events = [e for pair in pairs for e in pair] + [unrelated]

    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(serving(create_app(settings)))
        out = await stack.enter_async_context(
            TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED))
        )
        await asyncio.sleep(5)  # let the group settle so both instances own partitions
        # both halves of every pair in flight at once
        await asyncio.gather(
            *(
                produce(settings.kafka_bootstrap, settings.topic_name(APPEALS_RECEIVED), [e])
                for e in [e.to_bytes() for e in events]
            )
        )
        wanted = {str(e.appeal_id) for e in events}  # the module's topic also has test 1's events
        await out.wait_for(lambda _: wanted <= set(_by_appeal(out)), timeout=90)
        by_appeal = _by_appeal(out)

    for first, second in pairs:
        a = by_appeal[str(first.appeal_id)][0].classification
        b = by_appeal[str(second.appeal_id)][0].classification
        assert a.incident_id is not None
        assert a.incident_id == b.incident_id, (a.topic, b.topic)
    lamps = by_appeal[str(unrelated.appeal_id)][0].classification
    assert lamps.incident_id not in {
        by_appeal[str(p[0].appeal_id)][0].classification.incident_id for p in pairs
    }
    db = mongo[settings.database]
    assert await db["incident_locks"].count_documents({}) == 0  # every lease released


async def test_near_duplicates_in_one_batch_share_an_incident_across_its_parts(
    infra, topics, mongo, monkeypatch
):
    """A batch handled as concurrent parts (VECHE_BATCH_PARTS): the two halves of a pair have
    different keys, so usually land in different parts, and must still share one incident."""
    monkeypatch.setattr(pipeline, "MIN_PART", 2)  # split even a small test batch
    settings = _settings(infra, topics, batch_parts=3)
    streets = ["Металлургов", "Болдина", "Октябрьской", "Кирова", "Пушкинской", "Марата"]
    events = []
    for i, street in enumerate(streets):
        at = received().appeal.registered_at + timedelta(minutes=i)
        events.append(received(text=f"На улице {street} огромная яма на дороге", registered_at=at))
        events.append(
            received(
                text=f"огромные ямы на дороге по улице {street}, колеса разбиваем",
                registered_at=at + timedelta(minutes=30),
            )
        )
    # written before the service starts, so its first polls take them together; keyed by
    # appeal, as ingest writes them (parts are split by key)
    for event in events:
        await produce(
            settings.kafka_bootstrap,
            settings.topic_name(APPEALS_RECEIVED),
            [event.to_bytes()],
            key=event.key(),
        )
    async with (
        serving(create_app(settings)),
        TopicReader(settings.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)) as out,
    ):
        wanted = {str(e.appeal_id) for e in events}
        await out.wait_for(lambda _: wanted <= set(_by_appeal(out)), timeout=90)
        by_appeal = _by_appeal(out)

    for first, second in zip(events[::2], events[1::2], strict=True):
        a = by_appeal[str(first.appeal_id)][0].classification
        b = by_appeal[str(second.appeal_id)][0].classification
        assert a.incident_id is not None
        assert a.incident_id == b.incident_id
    assert await mongo[settings.database]["incident_locks"].count_documents({}) == 0


async def test_place_lock_waits_for_holder_and_takes_over_expired_lease(infra, mongo, namespace):
    store = ClassifyStore(mongo, f"{namespace}_locks")
    order: list[str] = []

    async def hold(name: str, pause: float) -> None:
        async with store.place_locks(["roads|металлург"]):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    first = asyncio.create_task(hold("a", 0.5))
    await until(lambda: order)
    await hold("b", 0)
    await first
    assert order == ["a+", "a-", "b+", "b-"]

    # a consumer that died holding a lease: the next one takes over after it expires
    async with store.place_locks(["waste|кирова"], lease_s=0.2):
        pass
    await store.locks.insert_one(
        {"_id": "waste|кирова", "owner": "dead", "expires": utc_now() - timedelta(seconds=1)}
    )
    async with store.place_locks(["waste|кирова"], wait_s=5):
        holder = await store.locks.find_one({"_id": "waste|кирова"})
        assert holder is not None
        assert holder["owner"] != "dead"
