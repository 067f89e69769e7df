"""Batch consumption with at-least-once delivery, per-appeal traces and dead letters.

One :class:`BatchConsumer` per subscription does what every stage needs, so a service
only writes ``handle(items) -> publications``:

1. decode each record on its own; a record that is not a valid event goes to ``<topic>.dlq``;
2. open a span per record whose parent is the trace context in the record's headers, so one
   appeal stays one trace even though records are processed in batches;
3. call the stage's handler with the whole batch (bulk writes, batched produce);
   retryable failures (store or broker unreachable) are retried with backoff; a non-retryable
   failure is narrowed down by re-running records one by one so only the poison record is
   dead-lettered and the rest of the partition continues;
4. publish the outgoing events (each inside its record's span), wait for every ack,
   and only then commit the offsets (``AckPolicy.NACK_ON_ERROR``: an exception rewinds the
   partitions and the batch is redelivered — writes are idempotent);
5. when the group rebalances (a replica joins or leaves), hand the partitions over only after
   the batch in flight is processed and committed (:class:`FinishBeforeRevoke`), so the next
   owner does not process it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.message import AckStatus
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .events import Event
from .kafka import dead_letter_headers, raw_decoder, record_headers
from .settings import ServiceSettings
from .telemetry import call_events
from .topics import Topic

log = logging.getLogger(__name__)
tracer = trace.get_tracer("veche.pipeline")

E = TypeVar("E", bound=Event)
GATHER_BYTES = 1024 * 1024  # a gathering consumer's fetch returns early once this much is there
MIN_PART = 100  # records: a smaller batch part saves less waiting than its calls cost
# How long a member that is giving up partitions waits for its batch in flight: under the
# rebalance timeout (aiokafka's default: the 10 s session timeout), past which the group
# drops the member — the batch is then redelivered to the next owner, as it would be anyway.
REVOKE_WAIT_S = 8.0
Record: TypeAlias = ConsumerRecord[Any, Any]


class PoisonError(Exception):
    """Raised by a stage for input it can never process (dead-lettered, not retried)."""


@dataclass(slots=True)
class Item(Generic[E]):
    """One decoded record on its way through a stage."""

    record: Record
    event: E
    span: Span
    attempts: int = 1

    @property
    def context(self) -> Context:
        return trace.set_span_in_context(self.span)


@dataclass(frozen=True, slots=True)
class Publication:
    """An event a stage emits for one incoming item."""

    topic: Topic
    event: Event
    item: Item[Any]


@dataclass(slots=True)
class BatchOutcome:
    published: int = 0
    dead_lettered: int = 0
    failures: list[str] = field(default_factory=list)


Handler = Callable[[Sequence[Item[E]]], Awaitable[Sequence[Publication]]]


class FinishBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a rebalance take partitions away only between batches.

    Without it, a replica joining the group (a scale-out, a rolling update) revoked the
    partitions while a batch was being processed: its commit then failed and the new owner
    processed the whole batch again (the bench's scale-out: 500 of 6 000 appeals classified
    twice, deduplicated downstream by event id, but work done twice). aiokafka calls
    ``on_partitions_revoked`` before rejoining and returns no records until the new assignment
    is known, so waiting here for the batch in flight (processed *and* committed) is enough.
    """

    def __init__(self, wait_s: float = REVOKE_WAIT_S) -> None:
        self._wait_s = wait_s
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Around a batch's processing and its commit."""
        self._idle.clear()
        try:
            yield
        finally:
            self._idle.set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._idle.is_set():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self._wait_s)
        except TimeoutError:
            log.warning(
                "partitions revoked mid-batch: the batch goes to their next owner",
                extra={"wait_s": self._wait_s},
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


def is_retryable(error: BaseException) -> bool:
    """Infrastructure hiccups are retried; anything about the data itself is not."""
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    if isinstance(error, KafkaError):
        return bool(getattr(error, "retriable", False)) or type(error).__name__ in {
            "KafkaTimeoutError",
            "KafkaConnectionError",
            "NodeNotReadyError",
            "RequestTimedOutError",
        }
    return isinstance(error, TimeoutError | ConnectionError)


class BatchConsumer(Generic[E]):
    """One batch subscriber. Usually of one topic; a projection that folds several topics into
    one store (ingest's timeline) subscribes to them together, so an appeal's events that arrive
    close together share one batch and one write. Each topic keeps its own dead-letter topic."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        *,
        topic: Topic | Sequence[Topic],
        handler: Handler[E],
        outputs: Sequence[Topic] = (),
        gather_ms: int | None = None,
        trace_batch_as: str | None = None,
    ) -> None:
        self._topics: tuple[Topic, ...] = (topic,) if isinstance(topic, Topic) else tuple(topic)
        if not self._topics:
            raise ValueError("a consumer needs a topic")
        for each in self._topics:
            if each.event is None:
                raise ValueError(f"{each.name} carries no event type")
        self._broker = broker
        self._settings = settings
        self._gather_ms = gather_ms if gather_ms is not None else settings.batch_gather_ms or None
        self._trace_batch_as = trace_batch_as
        # by the qualified name a record carries
        self._event_types: dict[str, type[E]] = {
            settings.topic_name(t): t.event  # type: ignore[misc]
            for t in self._topics
        }
        self._handler = handler
        self._group = settings.service_name
        self._handoff = FinishBeforeRevoke()
        self._dlqs: dict[str, DefaultPublisher] = {
            settings.topic_name(t): broker.publisher(
                settings.topic_name(t.dlq),
                title=f"{settings.topic_name(t.dlq)}:publish",
                description=t.dlq.description,
            )
            for t in self._topics
        }
        self._publish_events = {out.name: f"{settings.topic_name(out)} publish" for out in outputs}
        self._publishers: dict[str, DefaultPublisher] = {
            out.name: broker.publisher(
                settings.topic_name(out),
                schema=out.event,
                title=f"{settings.topic_name(out)}:publish",
                description=out.description,
            )
            for out in outputs
        }

    @classmethod
    def per_topic(
        cls,
        broker: KafkaBroker,
        settings: ServiceSettings,
        handlers: Mapping[Topic, Handler[Any]],
        *,
        outputs: Sequence[Topic] = (),
    ) -> BatchConsumer[Any]:
        """One consumer, one member of the service's group, for several topics, each topic's
        records to its own handler (see :func:`handler_per_topic`)."""
        return BatchConsumer[Any](
            broker,
            settings,
            topic=tuple(handlers),
            handler=handler_per_topic(settings, handlers),
            outputs=outputs,
        )

    @property
    def gather_ms(self) -> int | None:
        """How long the broker holds this consumer's fetch to gather a batch (None: it answers
        as soon as a record is there)."""
        return self._gather_ms

    def subscribe(self) -> None:
        """Register the batch subscriber (called from ``create_app``, never at import)."""
        names = [self._settings.topic_name(t) for t in self._topics]
        # A poll returns whatever the last fetch brought, however little; a consumer that
        # should gather asks the broker to hold each fetch until this much time has passed (or
        # a batch's worth of bytes is there). Otherwise Kafka's defaults: answer at once.
        wait_ms, min_bytes = (self._gather_ms, GATHER_BYTES) if self._gather_ms else (500, 1)

        @self._broker.subscriber(
            *names,
            group_id=self._group,
            batch=True,
            max_records=self._settings.batch_max_records,
            batch_timeout_ms=self._settings.batch_timeout_ms,
            fetch_max_wait_ms=wait_ms,
            fetch_min_bytes=min_bytes,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            listener=self._handoff,
            decoder=raw_decoder,
            title=f"{'+'.join(names)}:{self._group}",
            description="; ".join(t.description for t in self._topics)
            + f"; consumed by {self._group}",
        )
        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            async with self._handoff.batch():
                await self.process(records if isinstance(records, tuple) else (records,))
                await commit(message)

    async def process(self, records: Sequence[Record]) -> BatchOutcome:
        """Decode, handle, publish and dead-letter one batch (not its commit)."""
        outcome = BatchOutcome()
        batch_span = self._batch_span(records) if self._trace_batch_as else None
        items: list[Item[E]] = []
        try:
            for record in records:
                item = await self._decode(record, outcome, batch_span)
                if item is not None:
                    items.append(item)
            if items:
                await self._run(items, outcome)
        finally:
            for span in _distinct_spans(items):
                span.end()
            if batch_span is not None and not items:
                batch_span.end()
        return outcome

    def _batch_span(self, records: Sequence[Record]) -> Span:
        """One span for the whole batch, linked to each record's trace: for a projection off
        the appeals' path, where a span per record in every appeal's trace told operators
        nothing the stages' spans do not (ingest's timeline: a third of an appeal's spans)."""
        contexts = (
            trace.get_current_span(extract(record_headers(r))).get_span_context() for r in records
        )
        return tracer.start_span(
            str(self._trace_batch_as),
            kind=SpanKind.CONSUMER,
            links=[Link(context) for context in contexts if context.is_valid],
            attributes={
                "messaging.system": "kafka",
                "messaging.batch.message_count": len(records),
                "messaging.consumer.group.name": self._group,
            },
        )

    def _record_span(self, record: Record) -> Span:
        """The record's span, a child of the context its headers carry: the appeal's trace."""
        return tracer.start_span(
            f"{record.topic} process",
            context=extract(record_headers(record)),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.destination.partition": record.partition,
                "messaging.kafka.message.offset": record.offset,
                "messaging.consumer.group.name": self._group,
            },
        )

    async def _decode(
        self, record: Record, outcome: BatchOutcome, batch_span: Span | None
    ) -> Item[E] | None:
        span = batch_span or self._record_span(record)
        try:
            event = self._event_type(record.topic).from_bytes(record.value or b"")
        except (ValueError, ValidationError, UnicodeDecodeError, LookupError) as error:
            with trace.use_span(span, end_on_exit=batch_span is None):
                if batch_span is None:
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                await self._dead_letter(record, error, attempts=1, outcome=outcome)
            return None
        if batch_span is None:
            span.set_attribute("veche.appeal_id", str(event.appeal_id))
            span.set_attribute("veche.event_id", str(event.event_id))
        return Item(record=record, event=event, span=span)

    def _event_type(self, topic_name: str) -> type[E]:
        try:
            return self._event_types[topic_name]
        except KeyError:
            raise LookupError(f"no event type for topic {topic_name}") from None

    async def _run(self, items: list[Item[E]], outcome: BatchOutcome) -> None:
        parts = split_by_key(items, self._settings.batch_parts, MIN_PART)
        if len(parts) == 1:
            publications = await self._handle(items, outcome)
        else:
            publications = await self._handle_parts(parts, outcome)
        await self._publish(publications, outcome)

    async def _handle_parts(
        self, parts: Sequence[list[Item[E]]], outcome: BatchOutcome
    ) -> list[Publication]:
        """A large batch as concurrent parts: while one part waits for the store, another
        computes. A stage handled its batch as one sequence of computing and waiting (route
        waited ~65 % of a 500-record batch on its inserts and the broker's ack), and at
        saturation a fifth of the two cores stayed idle. Parts split by key, so an appeal's
        records stay in order; the offsets are committed once every part is done, as before."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._handle(part, outcome)) for part in parts]
        except ExceptionGroup as failed:  # the others were cancelled: redelivered, idempotent
            raise failed.exceptions[0] from None
        return [publication for task in tasks for publication in task.result()]

    async def _handle(self, items: list[Item[E]], outcome: BatchOutcome) -> list[Publication]:
        try:
            return list(await self._with_retries(items))
        except Exception as error:
            if is_retryable(error):
                raise  # infrastructure is down: let the batch be redelivered later
            log.warning(
                "batch failed, isolating the poison record",
                extra={"error_class": type(error).__name__, "records": len(items)},
            )
            return await self._one_by_one(items, outcome)

    async def _with_retries(self, items: Sequence[Item[E]]) -> Sequence[Publication]:
        result: Sequence[Publication] = ()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self._settings.retry_attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            reraise=True,
        ):
            with attempt:
                for item in items:
                    item.attempts = attempt.retry_state.attempt_number
                result = await self._handler(items)
        return result

    async def _one_by_one(
        self, items: Sequence[Item[E]], outcome: BatchOutcome
    ) -> list[Publication]:
        publications: list[Publication] = []
        for item in items:
            try:
                publications.extend(await self._with_retries([item]))
            except Exception as error:
                if is_retryable(error):
                    raise
                item.span.record_exception(error)
                item.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                with trace.use_span(item.span):
                    await self._dead_letter(
                        item.record, error, attempts=item.attempts, outcome=outcome
                    )
        return publications

    async def _publish(self, publications: Sequence[Publication], outcome: BatchOutcome) -> None:
        """Send every event, then wait for all the acknowledgements: each event's send is an
        event on its record's span, lasting until the broker acknowledged the batch."""
        served: dict[str, list[Span]] = {}
        for publication in publications:
            served.setdefault(publication.topic.name, []).append(publication.item.span)
        with ExitStack() as stack:
            for topic, spans in served.items():
                stack.enter_context(call_events(spans, self._publish_events[topic]))
            pending: list[asyncio.Future[Any]] = []
            for publication in publications:
                publisher = self._publishers[publication.topic.name]
                with trace.use_span(publication.item.span):  # its traceparent goes along
                    future = await publisher.publish(
                        publication.event.to_bytes(),
                        key=publication.event.key(),
                        headers={"content-type": "application/json"},
                        no_confirm=True,
                    )
                if inspect.isawaitable(future):  # the in-memory test producer confirms at once
                    pending.append(future)
            # Offsets are committed only after every outgoing event is acknowledged.
            await asyncio.gather(*pending)
        outcome.published += len(publications)

    async def _dead_letter(
        self, record: Record, error: BaseException, *, attempts: int, outcome: BatchOutcome
    ) -> None:
        log.warning(
            "dead-lettering a record",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_class": type(error).__name__,
            },
        )
        dlq = self._dlqs.get(record.topic) or next(iter(self._dlqs.values()))
        await dlq.publish(
            record.value or b"",
            key=record.key,
            headers=dead_letter_headers(record, error, attempts=attempts, group=self._group),
        )
        outcome.dead_lettered += 1
        outcome.failures.append(type(error).__name__)


async def commit(message: KafkaMessage) -> None:
    """Commit a processed batch's offsets inside its handler, so a rebalance waiting for the
    batch (:class:`FinishBeforeRevoke`) hands the partitions over with them committed.

    A commit the group refuses (it rebalanced without this member: the batch outlasted the
    wait) fails nothing — the records go to their next owner, at least once — and the message
    is marked handled, so FastStream does not try the commit again and log it as critical."""
    try:
        await message.ack()
    except KafkaError as error:
        log.warning(
            "batch processed but not committed: its partitions have a new owner, which "
            "processes it again",
            extra={"error": type(error).__name__},
        )
        message.committed = AckStatus.ACKED


def split_by_key(items: Sequence[Item[E]], parts: int, min_part: int) -> list[list[Item[E]]]:
    """Up to ``parts`` groups by the records' keys (an appeal's records stay in one group, in
    order); a batch of fewer than ``min_part`` records a part stays whole (splitting it saves no
    waiting). Not by partition: a poll mostly returns one partition's records."""
    count = min(parts, len(items) // min_part)
    if count < 2:
        return [list(items)]
    groups: list[list[Item[E]]] = [[] for _ in range(count)]
    for item in items:
        groups[zlib.crc32(item.record.key or b"") % count].append(item)
    return [group for group in groups if group]


def handler_per_topic(
    settings: ServiceSettings, handlers: Mapping[Topic, Handler[Any]]
) -> Handler[Any]:
    """One handler for a consumer of several topics, passing each topic's records of a batch to
    that topic's handler.

    A service with a consumer per topic had as many members in its group, each joining on its
    own: a start-up was a rebalance per member, and each rebalance handed the batches in flight
    to another member, which processed them again (notify, three topics: 34 notified events
    for 20 appeals in the e2e test). One consumer joins once, and polls once for all.
    """
    by_name = {settings.topic_name(topic): handler for topic, handler in handlers.items()}

    async def handle(items: Sequence[Item[Any]]) -> Sequence[Publication]:
        groups: dict[str, list[Item[Any]]] = {}
        for item in items:
            groups.setdefault(item.record.topic, []).append(item)
        publications: list[Publication] = []
        for name, group in groups.items():
            publications.extend(await by_name[name](group))
        return publications

    return handle


def store_events(
    items: Sequence[Item[Any]], operation: str, collection: str, database: str
) -> AbstractContextManager[None]:
    """A bulk store call as an event on every record's span (:func:`call_events`), so each
    appeal's trace shows its write: the call, the batch it served, when and how long."""
    return call_events(
        _distinct_spans(items),
        f"{operation} {database}.{collection}",
        {"db.operation.batch.size": len(items)},
    )


def _distinct_spans(items: Sequence[Item[Any]]) -> list[Span]:
    """Each span once: the items of a batch traced as one share its span."""
    spans: dict[int, Span] = {}
    for item in items:
        spans.setdefault(id(item.span), item.span)
    return list(spans.values())
