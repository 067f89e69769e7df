"""BatchConsumer on the real broker: poison to the DLQ with headers, the partition continues."""

import asyncio
import logging

import pytest
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from veche_shared import pipeline
from veche_shared.events import AppealClassifiedV1
from veche_shared.kafka import (
    DLQ_ERROR_CLASS,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_TOPIC,
    create_broker,
    raw_decoder,
)
from veche_shared.pipeline import BatchConsumer, Publication
from veche_shared.settings import ServiceSettings
from veche_shared.testing.events import classified_from, received
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED
from veche_shared.topics_cli import drop_topics, ensure_topics

pytestmark = pytest.mark.integration


class Settings(ServiceSettings):
    service_name = "pipeline-it"


@pytest.fixture
async def own_topics(infra, topics):
    """Topics of a namespace of the test's own (``topics`` + a suffix), deleted after it."""
    created: list[str] = []

    async def make(suffix: str) -> str:
        namespace = f"{topics}{suffix}"
        await ensure_topics(infra.kafka_bootstrap, namespace)
        created.append(namespace)
        return namespace

    yield make
    for namespace in created:
        await drop_topics(infra.kafka_bootstrap, namespace)


async def test_poison_record_goes_to_the_dlq_and_the_next_valid_one_is_processed(infra, topics):
    settings = Settings(namespace=topics, kafka_bootstrap=infra.kafka_bootstrap)
    broker = KafkaBroker(infra.kafka_bootstrap)

    async def handler(items):
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    BatchConsumer(
        broker, settings, topic=APPEALS_RECEIVED, handler=handler, outputs=[APPEALS_CLASSIFIED]
    ).subscribe()
    source = settings.topic_name(APPEALS_RECEIVED)
    valid = received()
    async with broker:
        await broker.start()
        await produce(infra.kafka_bootstrap, source, [b"{not json", valid.to_bytes()], key=b"k")
        async with (
            TopicReader(infra.kafka_bootstrap, f"{source}.dlq") as dlq,
            TopicReader(infra.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)) as out,
        ):
            dead = await dlq.wait_count(1)
            published = await out.wait_count(1)
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b"{not json"
    assert headers[DLQ_ERROR_CLASS] == "json.decoder.JSONDecodeError"
    assert headers[DLQ_ORIGINAL_TOPIC] == source
    assert headers[DLQ_ORIGINAL_OFFSET] == "0"
    assert AppealClassifiedV1.from_bytes(published[0].value).appeal_id == valid.appeal_id


async def test_a_gathering_consumer_of_several_topics_gets_them_together_and_dead_letters_per_topic(
    infra, own_topics
):
    """ingest's timeline: an appeal's events on several topics, written a moment apart, reach
    the handler together; poison goes to the DLQ of the topic it came from."""
    namespace = await own_topics("g")  # topics of its own: the other test leaves records behind
    settings = Settings(namespace=namespace, kafka_bootstrap=infra.kafka_bootstrap)
    broker = KafkaBroker(infra.kafka_bootstrap)
    batches: list[list[str]] = []
    done = asyncio.Event()

    async def handler(items):
        batches.append([type(i.event).__name__ for i in items])
        if sum(len(b) for b in batches) >= 6:
            done.set()
        return ()

    BatchConsumer(
        broker,
        settings,
        topic=(APPEALS_RECEIVED, APPEALS_CLASSIFIED),
        handler=handler,
        gather_ms=1500,
    ).subscribe()
    received_topic = settings.topic_name(APPEALS_RECEIVED)
    classified_topic = settings.topic_name(APPEALS_CLASSIFIED)
    appeals = [received() for _ in range(3)]
    async with broker:
        await broker.start()
        await asyncio.sleep(1.0)  # joined the group; the first fetch is under way
        for appeal in appeals:  # six events over ~0.3 s, one at a time
            await produce(infra.kafka_bootstrap, received_topic, [appeal.to_bytes()])
            await asyncio.sleep(0.05)
            await produce(
                infra.kafka_bootstrap, classified_topic, [classified_from(appeal).to_bytes()]
            )
            await asyncio.sleep(0.05)
        await produce(infra.kafka_bootstrap, classified_topic, [b"{not json"])
        async with TopicReader(infra.kafka_bootstrap, f"{classified_topic}.dlq") as dlq:
            dead = await dlq.wait_count(1)
        await asyncio.wait_for(done.wait(), 20)
    assert sorted(name for batch in batches for name in batch) == (
        ["AppealClassifiedV1"] * 3 + ["AppealReceivedV1"] * 3
    )
    assert len(batches) <= 3, batches  # not one batch per event
    assert dict(dead[0].headers)[DLQ_ORIGINAL_TOPIC].decode() == classified_topic


async def test_a_consumed_batch_leaves_spans_only_in_the_appeals_trace(
    infra, own_topics, monkeypatch
):
    """No per-batch root trace from the framework and no span per publish: the record's span
    continues the trace the input came with, holds the publish as an event, and is the parent
    the output's traceparent names for the next stage."""
    namespace = await own_topics("t")
    settings = Settings(namespace=namespace, kafka_bootstrap=infra.kafka_bootstrap)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(pipeline, "tracer", provider.get_tracer("test"))
    broker = create_broker(settings, registry=CollectorRegistry())

    async def handler(items):
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    BatchConsumer(
        broker, settings, topic=APPEALS_RECEIVED, handler=handler, outputs=[APPEALS_CLASSIFIED]
    ).subscribe()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01".encode()
    async with broker:
        await broker.start()
        await produce(
            infra.kafka_bootstrap,
            settings.topic_name(APPEALS_RECEIVED),
            [received().to_bytes()],
            key=b"k",
            headers=[("traceparent", traceparent)],
        )
        async with TopicReader(
            infra.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)
        ) as out:
            [published] = await out.wait_count(1)
    headers = {k: v.decode() for k, v in published.headers}
    assert headers["traceparent"].split("-")[1] == trace_id
    [process] = exporter.get_finished_spans()
    assert process.name == f"{settings.topic_name(APPEALS_RECEIVED)} process"
    assert format(process.context.trace_id, "032x") == trace_id
    assert format(process.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert headers["traceparent"].split("-")[2] == format(process.context.span_id, "016x")
    [sent] = process.events
    assert sent.name == f"{settings.topic_name(APPEALS_CLASSIFIED)} publish"
    assert sent.attributes["veche.duration_ms"] > 0  # until the broker acknowledged it


async def test_per_batch_received_and_processed_logs_are_debug_detail(infra, own_topics, caplog):
    settings = Settings(namespace=await own_topics("l"), kafka_bootstrap=infra.kafka_bootstrap)
    broker = create_broker(settings, registry=CollectorRegistry())
    consumed = asyncio.Event()
    source = settings.topic_name(APPEALS_RECEIVED)

    @broker.subscriber(
        source, group_id="logs", batch=True, auto_offset_reset="earliest", decoder=raw_decoder
    )
    async def consume(bodies: list[bytes]) -> None:
        consumed.set()

    with caplog.at_level(logging.DEBUG, logger="veche_shared.kafka"):
        async with broker:
            await broker.start()
            await produce(infra.kafka_bootstrap, source, [received().to_bytes()], key=b"k")
            await asyncio.wait_for(consumed.wait(), timeout=20)
    service_messages = [
        r.levelno for r in caplog.records if r.getMessage() in ("Received", "Processed")
    ]
    assert service_messages  # still there for whoever asks for debug logs
    assert set(service_messages) == {logging.DEBUG}


async def test_a_replica_joining_mid_batch_gets_the_partitions_after_the_batch_is_committed(
    infra, own_topics
):
    """A scale-out (or a rolling update) rebalances the group while a batch is in flight: the
    member giving partitions up finishes and commits it first, so no record is processed
    twice. Two members of one group on the real broker; the first batch takes 6 s, longer
    than it takes the second member to join and the first to hear of the rebalance."""
    namespace = await own_topics("r")
    settings = Settings(namespace=namespace, kafka_bootstrap=infra.kafka_bootstrap)
    source = settings.topic_name(APPEALS_RECEIVED)
    first_batch_started = asyncio.Event()
    processed: dict[str, list[str]] = {"first": [], "second": []}

    def consumer_of(member: str) -> KafkaBroker:
        broker = KafkaBroker(infra.kafka_bootstrap)

        async def handler(items):
            if member == "first" and not first_batch_started.is_set():
                first_batch_started.set()
                await asyncio.sleep(6)
            processed[member].extend(str(i.event.event_id) for i in items)
            return ()

        BatchConsumer(broker, settings, topic=APPEALS_RECEIVED, handler=handler).subscribe()
        return broker

    before = [received() for _ in range(60)]
    after = [received() for _ in range(60)]
    await produce(infra.kafka_bootstrap, source, [e.to_bytes() for e in before])
    expected = {str(e.event_id) for e in before + after}
    async with consumer_of("first") as first, consumer_of("second") as second:
        await first.start()
        await asyncio.wait_for(first_batch_started.wait(), 20)
        await second.start()  # joins while the first member's batch is in flight
        await until_processed(processed, {str(e.event_id) for e in before})
        await produce(infra.kafka_bootstrap, source, [e.to_bytes() for e in after])
        await until_processed(processed, expected)

    everything = processed["first"] + processed["second"]
    twice = sorted({x for x in everything if everything.count(x) > 1})
    assert twice == [], f"{len(twice)} records processed twice"
    assert set(everything) == expected
    assert processed["second"], "the second member never got a partition: no rebalance tested"


async def until_processed(processed: dict[str, list[str]], expected: set[str]) -> None:
    for _ in range(300):
        if expected <= set(processed["first"]) | set(processed["second"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not every record was processed within 30 s")
