"""Kafka not confirming in time: the appeal is stored and answered as queued; the outbox relay
delivers the same event (same event id, same trace) once Kafka is back."""

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import TypeVar

import pytest
from veche_ingest.app import build_intake, received_publisher
from veche_ingest.domain.intake import AppealSubmission
from veche_ingest.outbox import OutboxRelay
from veche_ingest.registrar import Registrar
from veche_ingest.settings import IngestSettings
from veche_ingest.storage import IngestStore
from veche_shared.events import AppealReceivedV1, utc_now
from veche_shared.runtime import Runtime
from veche_shared.testing.kafka_tools import TopicReader
from veche_shared.topics import APPEALS_RECEIVED

pytestmark = pytest.mark.integration

S = TypeVar("S", bound=IngestStore)


@pytest.fixture
async def runtime(infra, topics):
    settings = IngestSettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    running = Runtime.create(settings)
    await running.broker.start()
    yield running
    await running.broker.stop()
    await running.client.close()


async def prepared_store(runtime: Runtime, store_type: type[S]) -> S:
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    store = store_type(runtime.client, settings.database)
    await store.create_indexes()
    return store


class KeptHere:
    """A publish that keeps the events it is given (Kafka not involved)."""

    def __init__(self) -> None:
        self.events: list[AppealReceivedV1] = []

    async def __call__(self, event: AppealReceivedV1, headers: Mapping[str, str]) -> None:
        self.events.append(event)


async def kafka_that_never_answers(event: AppealReceivedV1, headers: Mapping[str, str]) -> None:
    await asyncio.Event().wait()  # the broker is unreachable: the produce never completes


async def test_unconfirmed_appeal_is_queued_then_relayed_with_the_same_event(runtime):
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    store = IngestStore(runtime.client, settings.database)
    await store.create_indexes()
    offline = Registrar(
        store,
        kafka_that_never_answers,
        region_code="71",
        publish_timeout=0.2,
        on_published=lambda _: None,
    )
    submission = AppealSubmission(text="Третий день нет горячей воды в доме 7 на улице Мира")
    registered = await offline.register(submission.to_intake())
    assert registered.queued
    stored = await store.appeal(registered.appeal_id)
    assert stored is not None
    assert await store.is_queued(registered.appeal_id)

    relay = OutboxRelay(
        store, received_publisher(runtime, settings), grace=timedelta(0), interval=60
    )
    topic = settings.topic_name(APPEALS_RECEIVED)
    async with TopicReader(settings.kafka_bootstrap, topic) as reader:
        assert await relay.relay_once() >= 1
        records = await reader.wait_for(
            lambda rs: any(r.key == registered.appeal_id.encode() for r in rs)
        )
    record = next(r for r in records if r.key == registered.appeal_id.encode())
    relayed = AppealReceivedV1.from_bytes(record.value)
    assert relayed.event_id == AppealReceivedV1.from_stored(stored["event"]).event_id
    assert registered.trace_id is not None
    assert registered.trace_id in dict(record.headers)["traceparent"].decode()
    assert not await store.is_queued(registered.appeal_id)
    assert await relay.relay_once() == 0  # delivered once: nothing left pending


async def test_confirmed_appeals_are_marked_published_in_batches(runtime):
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    intake = build_intake(runtime, settings)
    await intake.store.create_indexes()
    results = await asyncio.gather(
        *(
            intake.registrar.register(AppealSubmission(text=f"Яма номер {n}").to_intake())
            for n in range(5)
        )
    )
    assert not any(r.queued for r in results)
    await intake.marks.flush()
    for result in results:
        assert not await intake.store.is_queued(result.appeal_id)
    ids = [result.appeal_id for result in results]
    assert await intake.store.outbox.count_documents({"_id": {"$in": ids}}) == 0


async def test_relay_drops_outbox_entries_of_appeals_never_stored(runtime):
    """The request died between the outbox entry and the appeal: nothing was accepted, so the
    relay publishes nothing for it and clears the entry."""
    store = await prepared_store(runtime, IngestStore)
    publish = KeptHere()
    await store.outbox.insert_one({"_id": "never-stored", "at": utc_now() - timedelta(minutes=5)})
    relay = OutboxRelay(store, publish, grace=timedelta(seconds=1), interval=60)
    assert await relay.relay_once() == 0
    assert publish.events == []
    assert await store.outbox.find_one({"_id": "never-stored"}) is None


class NumberOnlyBesideTheOutboxEntry(IngestStore):
    """Gives out a registration number only once the appeal's outbox entry is stored: a
    registration that writes the two one after the other never gets its number."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.entry_stored = asyncio.Event()

    async def queue_publication(self, appeal_id, registered_at):
        await super().queue_publication(appeal_id, registered_at)
        self.entry_stored.set()

    async def next_sequence(self, key):
        await asyncio.wait_for(self.entry_stored.wait(), timeout=5)
        return await super().next_sequence(key)


async def test_the_outbox_entry_is_written_beside_the_number_not_after_it(runtime):
    store = await prepared_store(runtime, NumberOnlyBesideTheOutboxEntry)
    publish = KeptHere()
    registrar = Registrar(
        store, publish, region_code="71", publish_timeout=5, on_published=lambda _: None
    )
    submission = AppealSubmission(text="Не горит фонарь у дома 3 на улице Кирова")
    registered = await registrar.register(submission.to_intake())
    assert [str(e.appeal_id) for e in publish.events] == [registered.appeal_id]
    assert await store.is_queued(registered.appeal_id)  # nobody marked it published here
    assert (await store.appeal(registered.appeal_id) or {}).get("registration_number")
