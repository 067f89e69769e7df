"""The one way services talk to Kafka: a configured broker, record headers, dead letters."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.response import KafkaPublishCommand
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from opentelemetry import trace
from opentelemetry.propagate import inject
from prometheus_client import CollectorRegistry

from .settings import ServiceSettings
from .telemetry import call_events

log = logging.getLogger(__name__)

# Headers that describe why a record is a dead letter (STYLE.md, "Handlers").
DLQ_ERROR_CLASS = "x-veche-error-class"
DLQ_ERROR_MESSAGE = "x-veche-error-message"
DLQ_ORIGINAL_TOPIC = "x-veche-original-topic"
DLQ_ORIGINAL_PARTITION = "x-veche-original-partition"
DLQ_ORIGINAL_OFFSET = "x-veche-original-offset"
DLQ_ATTEMPTS = "x-veche-attempts"
DLQ_CONSUMER_GROUP = "x-veche-consumer-group"
DLQ_FAILED_AT = "x-veche-failed-at"
MAX_ERROR_MESSAGE = 1000
TRACEPARENT = "traceparent"  # W3C trace context header


class TraceContextMiddleware(BaseMiddleware[KafkaPublishCommand, Any]):
    """Every outgoing record carries the current trace context (``traceparent``), so the next
    stage continues the appeal's trace; a confirmed publish is an event on the current span.

    No producer span: a span per event (FastStream's telemetry middleware) was a third of an
    appeal's spans and ~12 % of a stage's CPU with its export, for a fact the sending span can
    hold as an event — the stage's record span, which the next stage's span now follows. A
    batch's publishes without confirmation are recorded by
    :class:`~veche_shared.pipeline.BatchConsumer` once the broker acknowledged them.
    """

    async def publish_scope(
        self, call_next: Callable[[KafkaPublishCommand], Awaitable[Any]], cmd: KafkaPublishCommand
    ) -> Any:
        if TRACEPARENT not in cmd.headers:  # one the caller gives (a stored appeal's) stands
            inject(cmd.headers)
        if cmd.no_confirm:
            return await call_next(cmd)
        with call_events([trace.get_current_span()], f"{cmd.destination} publish"):
            return await call_next(cmd)


async def _poll_batch(
    self: BatchSubscriber, consumer: AIOKafkaConsumer
) -> tuple[ConsumerRecord[Any, Any], ...]:
    started = time.monotonic()
    polled = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
    if not polled:
        timeout, waited = self.batch_timeout_ms / 1000, time.monotonic() - started
        if waited < timeout / 2:  # back empty at once (no partitions yet, a rebalance): no spin
            await asyncio.sleep(timeout - waited)
        return ()
    return tuple(chain(*polled.values()))


def poll_without_pauses() -> None:
    """FastStream's batch subscriber (0.7) sleeps ``batch_timeout_ms`` after every empty poll,
    though the poll has just waited that long for data: an idle consumer was deaf half the
    time, and a record arriving then waited up to 50 ms more, at every hop (the spans of one
    appeal at 2/s showed 20–60 ms between a publish and the next stage's process). Poll again
    at once instead."""
    BatchSubscriber.get_msg = _poll_batch  # type: ignore[method-assign]


def create_broker(settings: ServiceSettings, *, registry: CollectorRegistry) -> KafkaBroker:
    """A broker whose producer never loses an acknowledged write.

    ``acks=all`` with idempotence: a retried send cannot duplicate or reorder a partition.
    ``max_batch_size`` is raised so a batch of events fits one producer batch per partition.
    A 1 ms linger: 5 ms cost every hop (and the acknowledgement each batch waits for before
    its offsets are committed) 4–5 ms at low load; none at all made the broker answer a
    request per event (its CPU at 25 appeals/s 16–21 % → 33–45 %, the 50/s p99 worse).
    """
    poll_without_pauses()
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"veche-{settings.service_name}",
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=30_000,
        graceful_timeout=30.0,
        middlewares=[
            TraceContextMiddleware,
            KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name),
        ],
        logger=log,
        # FastStream's "Received"/"Processed" pair for every batch of every consumer: debug
        # detail (VECHE_LOG_LEVEL=DEBUG shows it); what went wrong is logged at WARNING and up.
        log_level=logging.DEBUG,
    )


async def raw_decoder(message: StreamMessage[Any]) -> Any:
    """Keep bodies as bytes: each service validates per record, so one bad record
    cannot fail a whole batch inside the framework's JSON decoder."""
    return message.body


def record_headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    """Kafka headers as text; undecodable values are skipped (a header is never poison)."""
    headers: dict[str, str] = {}
    for key, value in record.headers or ():
        try:
            headers[key] = value.decode() if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError:
            continue
    return headers


def dead_letter_headers(
    record: ConsumerRecord[Any, Any],
    error: BaseException,
    *,
    attempts: int,
    group: str,
) -> dict[str, str]:
    """The original headers (trace context included) plus the cause of the failure."""
    headers = record_headers(record)
    headers.update(
        {
            DLQ_ERROR_CLASS: f"{type(error).__module__}.{type(error).__qualname__}",
            DLQ_ERROR_MESSAGE: describe_error(error)[:MAX_ERROR_MESSAGE],
            DLQ_ORIGINAL_TOPIC: record.topic,
            DLQ_ORIGINAL_PARTITION: str(record.partition),
            DLQ_ORIGINAL_OFFSET: str(record.offset),
            DLQ_ATTEMPTS: str(attempts),
            DLQ_CONSUMER_GROUP: group,
            DLQ_FAILED_AT: datetime.now(UTC).isoformat(),
        }
    )
    return headers


def describe_error(error: BaseException) -> str:
    """A reason an operator can act on, without echoing input values (they may hold PII)."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(_describe_validation_issue(issue) for issue in error.errors())
    return str(error) or type(error).__name__


def _describe_validation_issue(issue: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in issue.get("loc", ())) or "<body>"
    return f"{location}: {issue.get('msg', 'invalid')}"
