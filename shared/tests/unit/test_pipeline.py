"""BatchConsumer on FastStream's in-memory broker: decoding, dead letters, publications."""

import asyncio

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from veche_shared.events import AppealClassifiedV1, AppealReceivedV1
from veche_shared.kafka import (
    DLQ_ATTEMPTS,
    DLQ_ERROR_CLASS,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    raw_decoder,
)
from veche_shared.pipeline import (
    BatchConsumer,
    FinishBeforeRevoke,
    Item,
    PoisonError,
    Publication,
    handler_per_topic,
    split_by_key,
    store_events,
)
from veche_shared.settings import ServiceSettings
from veche_shared.testing.events import classified, classified_from, received
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED


class Settings(ServiceSettings):
    service_name = "unit"


def record(
    value: bytes, offset: int, headers=(), topic="appeals.received.v1", partition=0, key=None
) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=list(headers),
    )


@pytest.fixture
def broker():
    return KafkaBroker()


async def run_batch(broker, handler, values):
    settings = Settings(retry_attempts=2)
    consumer = BatchConsumer(
        broker, settings, topic=APPEALS_RECEIVED, handler=handler, outputs=[APPEALS_CLASSIFIED]
    )
    dead, out = [], []

    @broker.subscriber("appeals.received.v1.dlq", decoder=raw_decoder)
    async def on_dead(body: bytes):
        dead.append(body)

    @broker.subscriber("appeals.classified.v1", decoder=raw_decoder)
    async def on_out(body: bytes):
        out.append(body)

    async with TestKafkaBroker(broker):
        outcome = await consumer.process([record(v, i) for i, v in enumerate(values)])
        await asyncio.sleep(0)
    return outcome, dead, out


async def test_malformed_record_is_dead_lettered_and_the_rest_of_the_batch_is_published(broker):
    good = [received(), received()]

    async def handler(items):
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    outcome, dead, out = await run_batch(
        broker, handler, [good[0].to_bytes(), b'{"appeal_id": 1}', good[1].to_bytes()]
    )
    assert outcome.dead_lettered == 1
    assert outcome.published == 2
    assert dead == [b'{"appeal_id": 1}']
    assert len(out) == 2


async def test_a_record_that_fails_in_the_handler_is_isolated_and_dead_lettered(broker):
    good, poison = received(), received(text="POISON")

    async def handler(items):
        if any(i.event.appeal.text == "POISON" for i in items):
            raise PoisonError("cannot classify")
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    outcome, dead, out = await run_batch(broker, handler, [good.to_bytes(), poison.to_bytes()])
    assert outcome.dead_lettered == 1
    assert outcome.failures == ["PoisonError"]
    assert AppealReceivedV1.from_bytes(dead[0]).appeal_id == poison.appeal_id
    assert len(out) == 1
    assert AppealClassifiedV1.from_bytes(out[0]).appeal_id == good.appeal_id


async def test_infrastructure_errors_propagate_so_the_batch_is_redelivered(broker):
    calls = 0

    async def handler(items):
        nonlocal calls
        calls += 1
        raise ConnectionError("store down")

    with pytest.raises(ConnectionError):
        await run_batch(broker, handler, [received().to_bytes()])
    assert calls == 2  # retried up to retry_attempts, then left to redelivery


def test_dead_letter_headers_describe_the_failure():
    from veche_shared.kafka import dead_letter_headers

    headers = dead_letter_headers(record(b"x", 7), ValueError("bad"), attempts=3, group="classify")
    assert headers[DLQ_ERROR_CLASS] == "builtins.ValueError"
    assert headers[DLQ_ORIGINAL_TOPIC] == "appeals.received.v1"
    assert headers[DLQ_ORIGINAL_PARTITION] == "0"
    assert headers[DLQ_ORIGINAL_OFFSET] == "7"
    assert headers[DLQ_ATTEMPTS] == "3"


def test_a_bulk_store_call_is_an_event_on_every_records_span():
    from opentelemetry.sdk.trace import TracerProvider
    from veche_shared.pipeline import Item, store_events

    tracer = TracerProvider().get_tracer("test")
    spans = [tracer.start_span(f"record {n}") for n in range(3)]
    items = [Item(record(b"{}", n), received(), span) for n, span in enumerate(spans)]
    with store_events(items, "insert_many", "notes", "db"):
        pass
    with pytest.raises(ConnectionError), store_events(items[:1], "find", "notes", "db"):
        raise ConnectionError("store away")
    for span in spans:
        span.end()

    for span in spans:
        first = span.events[0]
        assert first.name == "insert_many db.notes"
        assert first.attributes["db.operation.batch.size"] == 3
        assert first.attributes["veche.duration_ms"] >= 0
        assert "error.type" not in first.attributes
    assert [e.name for e in spans[1].events] == ["insert_many db.notes"]
    failed = spans[0].events[1]
    assert (failed.name, failed.attributes["error.type"]) == ("find db.notes", "ConnectionError")


@pytest.fixture
def recorded_spans(monkeypatch):
    """The pipeline's spans, recorded by a provider of the test's own (not the global one)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from veche_shared import pipeline

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(pipeline, "tracer", provider.get_tracer("test"))
    return exporter.get_finished_spans


def traced_record(value: bytes, offset: int, trace_id: int) -> ConsumerRecord:
    traceparent = f"00-{trace_id:032x}-{offset + 1:016x}-01".encode()
    return record(value, offset, headers=[("traceparent", traceparent)])


async def test_each_published_event_is_an_event_on_its_records_span(broker, recorded_spans):
    async def handler(items):
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    outcome, _, out = await run_batch(broker, handler, [received().to_bytes()] * 2)
    assert (outcome.published, len(out)) == (2, 2)
    spans = recorded_spans()
    assert [s.name for s in spans] == ["appeals.received.v1 process"] * 2
    for span in spans:  # no producer span: the publish is on the record's span
        [sent] = span.events
        assert sent.name == "appeals.classified.v1 publish"
        assert sent.attributes["veche.duration_ms"] >= 0


async def test_a_batch_traced_as_one_span_links_every_records_trace(broker, recorded_spans):
    seen = []

    async def handler(items):
        seen.append({id(i.span) for i in items})
        with store_events(items, "insert_many", "timeline", "db"):
            pass
        return ()

    consumer = BatchConsumer(
        broker, Settings(), topic=APPEALS_RECEIVED, handler=handler, trace_batch_as="projection"
    )
    values = [received().to_bytes(), b"not json", received().to_bytes()]
    async with TestKafkaBroker(broker):
        outcome = await consumer.process(
            [traced_record(v, n, trace_id=n + 7) for n, v in enumerate(values)]
        )
    assert outcome.dead_lettered == 1
    [shared] = seen  # one handler call, its items sharing the batch's span
    assert len(shared) == 1
    [span] = recorded_spans()  # ended once, whatever its records did
    assert span.name == "projection"
    assert span.attributes["messaging.batch.message_count"] == 3
    assert [link.context.trace_id for link in span.links] == [7, 8, 9]
    assert [e.name for e in span.events].count("insert_many db.timeline") == 1


async def test_a_batch_span_ends_when_every_record_was_poison(broker, recorded_spans):
    async def handler(items):
        raise AssertionError("no item reaches the handler")

    consumer = BatchConsumer(
        broker, Settings(), topic=APPEALS_RECEIVED, handler=handler, trace_batch_as="projection"
    )
    async with TestKafkaBroker(broker):
        outcome = await consumer.process([traced_record(b"{", 0, trace_id=5)])
    assert outcome.dead_lettered == 1
    assert [s.name for s in recorded_spans()] == ["projection"]


async def test_one_consumer_of_several_topics_gives_each_handler_its_topics_records(broker):
    seen: dict[str, list[str]] = {}

    def handler(name):
        async def handle(items):
            seen.setdefault(name, []).extend(str(i.event.appeal_id) for i in items)
            if name == "classified":
                return []
            return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

        return handle

    settings = Settings()
    handlers = {APPEALS_RECEIVED: handler("received"), APPEALS_CLASSIFIED: handler("classified")}
    consumer = BatchConsumer(
        broker,
        settings,
        topic=tuple(handlers),
        handler=handler_per_topic(settings, handlers),
        outputs=[APPEALS_CLASSIFIED],
    )
    first, second, other = received(), received(), classified()
    records = [
        record(first.to_bytes(), 0),
        record(other.to_bytes(), 0, topic="appeals.classified.v1"),
        record(second.to_bytes(), 1),
    ]
    async with TestKafkaBroker(broker):
        outcome = await consumer.process(records)
    assert seen == {
        "received": [str(first.appeal_id), str(second.appeal_id)],
        "classified": [str(other.appeal_id)],
    }
    assert outcome.published == 2


def keyed_items(keys):
    return [Item(record(b"{}", n, key=key), received(), None) for n, key in enumerate(keys)]


def test_a_large_batch_splits_into_parts_keeping_each_keys_records_together_in_order():
    keys = [f"appeal-{n % 60}".encode() for n in range(300)]  # five records a key
    parts = split_by_key(keyed_items(keys), 2, 100)
    assert len(parts) == 2
    assert sum(len(part) for part in parts) == 300
    assert min(len(part) for part in parts) > 100  # the keys spread over both
    for part in parts:
        offsets = [i.record.offset for i in part]
        assert offsets == sorted(offsets)
    [first, second] = ({i.record.key for i in part} for part in parts)
    assert not first & second


def test_a_small_batch_stays_whole():
    keys = [f"appeal-{n}".encode() for n in range(199)]
    assert len(split_by_key(keyed_items(keys), 2, 100)) == 1
    assert len(split_by_key(keyed_items(keys * 3), 1, 100)) == 1


async def test_the_parts_of_a_batch_run_concurrently_and_a_poison_record_stays_in_its_part(broker):
    started: list[int] = []
    both_started = asyncio.Event()

    async def handler(items):
        started.append(len(items))
        if len(started) == 2:
            both_started.set()
        # a part waits here for the other part to start: sequential parts would time out
        await asyncio.wait_for(both_started.wait(), 5)
        if any(i.event.appeal.text == "POISON" for i in items):
            raise PoisonError("cannot classify")
        return [Publication(APPEALS_CLASSIFIED, classified_from(i.event), i) for i in items]

    consumer = BatchConsumer(
        broker, Settings(), topic=APPEALS_RECEIVED, handler=handler, outputs=[APPEALS_CLASSIFIED]
    )
    values = [received().to_bytes() for _ in range(240)]
    values[5] = received(text="POISON").to_bytes()
    records = [record(v, n, key=str(n).encode()) for n, v in enumerate(values)]
    async with TestKafkaBroker(broker):
        outcome = await consumer.process(records)
    assert len(started) > 2  # two parts, then the poison's part one by one
    assert sum(started[:2]) == 240
    assert outcome.dead_lettered == 1
    assert outcome.published == 239


async def test_publishing_injects_the_current_context_unless_the_caller_gives_one():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry
    from veche_shared.kafka import create_broker

    broker = create_broker(Settings(), registry=CollectorRegistry())
    seen: list[dict[str, str]] = []

    @broker.subscriber("appeals.classified.v1", decoder=raw_decoder)
    async def on_out(body: bytes, message: KafkaMessage):
        seen.append(dict(message.headers))

    stored = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # an appeal's, kept
    span = TracerProvider().get_tracer("test").start_span("answer request")
    async with TestKafkaBroker(broker):
        with trace.use_span(span, end_on_exit=True):
            await broker.publish(b"{}", "appeals.classified.v1")
            await broker.publish(b"{}", "appeals.classified.v1", headers={"traceparent": stored})
    own = format(span.get_span_context().span_id, "016x")
    assert seen[0]["traceparent"].split("-")[2] == own  # the current span's context
    assert seen[1]["traceparent"] == stored  # the appeal's trace, not the request's
    assert [e.name for e in span.events] == ["appeals.classified.v1 publish"] * 2


async def test_a_revocation_between_batches_goes_through_at_once():
    handoff = FinishBeforeRevoke(wait_s=5)
    await asyncio.wait_for(handoff.on_partitions_revoked(set()), 0.1)


async def test_a_revocation_mid_batch_waits_for_the_batch_to_end():
    handoff = FinishBeforeRevoke(wait_s=5)
    steps: list[str] = []

    async def batch() -> None:
        async with handoff.batch():
            await asyncio.sleep(0.2)
            steps.append("batch committed")

    running = asyncio.create_task(batch())
    await asyncio.sleep(0)  # the batch has begun
    await handoff.on_partitions_revoked(set())
    steps.append("partitions handed over")
    await running
    assert steps == ["batch committed", "partitions handed over"]


async def test_a_batch_longer_than_the_wait_lets_the_rebalance_go_on(caplog):
    handoff = FinishBeforeRevoke(wait_s=0.05)
    release = asyncio.Event()

    async def batch() -> None:
        async with handoff.batch():
            await release.wait()

    running = asyncio.create_task(batch())
    await asyncio.sleep(0)
    await asyncio.wait_for(handoff.on_partitions_revoked(set()), 1)
    release.set()
    await running
    assert "partitions revoked mid-batch" in caplog.text


@pytest.mark.parametrize(
    ("configured", "explicit", "gathers"),
    [(0, None, None), (40, None, 40), (40, 1000, 1000), (0, 1000, 1000)],
)
def test_a_consumer_gathers_as_configured_unless_its_service_says_otherwise(
    configured, explicit, gathers
):
    """``VECHE_BATCH_GATHER_MS`` for every consumer of a service; a consumer that gathers for a
    reason of its own (ingest's timeline) keeps its own window."""
    settings = Settings(batch_gather_ms=configured)

    async def handler(items):
        return ()

    consumer = BatchConsumer(
        KafkaBroker(), settings, topic=APPEALS_RECEIVED, handler=handler, gather_ms=explicit
    )

    assert consumer.gather_ms == gathers
