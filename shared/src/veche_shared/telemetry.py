"""Tracing and logging set up once per process, before the broker exists.

* Traces: OpenTelemetry SDK, OTLP/HTTP exporter when ``VECHE_OTLP_ENDPOINT`` is set, resource
  attributes ``service.name``, ``service.namespace=veche``, ``service.version``.
* Logs: JSON lines with ``trace_id`` and ``span_id`` so a log line finds its trace.
* PII: span attributes are built with :func:`safe_attributes`, which refuses personal-data keys.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib.metadata import PackageNotFoundError, version

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.util.types import AttributeValue
from pythonjsonlogger.json import JsonFormatter

# Keys that would carry a citizen's personal data or the appeal text: never attributes.
FORBIDDEN_ATTRIBUTE_PARTS = ("name", "phone", "email", "address", "text", "contact", "title")
MAX_LINKS = 2048
ALLOWED_ATTRIBUTE_KEYS = frozenset(
    {"messaging.destination.name", "db.collection.name", "db.namespace", "service.name"}
)


def package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # running from a source tree without metadata
        return "0.0.0"


def setup_tracing(
    service_name: str, otlp_endpoint: str | None, *, sample_ratio: float = 1.0
) -> TracerProvider:
    """The process's tracer provider (see :func:`tracer_provider`), set once as the global."""
    provider = tracer_provider(service_name, otlp_endpoint, sample_ratio=sample_ratio)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(
    service_name: str, otlp_endpoint: str | None, *, sample_ratio: float = 1.0
) -> TracerProvider:
    """A provider that traces ``sample_ratio`` of the appeals, each one whole.

    The decision is taken where an appeal's trace starts (ingest's request, or the first stage
    that sees a record without trace context) and travels in the ``traceparent`` header, so
    every later stage follows it (``ParentBased``): an appeal's trace is complete or absent,
    never a fragment. Exporting every appeal's trace costs ~15 % of the pipeline's CPU on the
    bench's two cores (docs/PERFORMANCE.md, sessions 15-16): a ratio below 1 is the knob for a
    deployment that needs the CPU more than a trace of every appeal.
    """
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "veche",
            "service.version": package_version(f"veche-{service_name}"),
        }
    )
    sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    # a projection's batch span links to every appeal it served (up to a batch of records);
    # the SDK's default keeps only 128 links
    limits = SpanLimits(max_links=MAX_LINKS)
    provider = TracerProvider(resource=resource, sampler=sampler, span_limits=limits)
    if otlp_endpoint:
        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    return provider


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        record.span_id = format(context.span_id, "016x") if context.is_valid else None
        return True


def setup_logging(service_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            rename_fields={"levelname": "level", "asctime": "time"},
            static_fields={"service": service_name},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def safe_attributes(attributes: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    """Return span attributes after refusing any key that could hold personal data."""
    for key in attributes:
        lowered = key.lower()
        if key not in ALLOWED_ATTRIBUTE_KEYS and any(
            p in lowered for p in FORBIDDEN_ATTRIBUTE_PARTS
        ):
            raise ValueError(f"span attribute {key!r} could carry personal data")
    return dict(attributes)


def trace_id_hex(span: trace.Span | None = None) -> str | None:
    context = (span or trace.get_current_span()).get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def store_span(
    operation: str, collection: str, database: str
) -> AbstractContextManager[trace.Span]:
    """A client span around one store call, child of the current span."""
    return trace.get_tracer("veche.store").start_as_current_span(
        f"{operation} {database}.{collection}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "db.system.name": "mongodb",
            "db.namespace": database,
            "db.collection.name": collection,
            "db.operation.name": operation,
        },
    )


@contextmanager
def call_events(
    spans: Sequence[trace.Span], name: str, attributes: Mapping[str, AttributeValue] | None = None
) -> Iterator[None]:
    """Record one call (a bulk store write, a batch of publishes) as an event on every span it
    served: when it started, how long it took, and ``error.type`` if it failed.

    A child span per record for the same call cost ~57 µs each to make, export and collect;
    an event on the span the record already has costs ~11 µs and tells the same. Only what
    the name does not say goes into attributes: they are encoded again for every span.
    """
    started = time.time_ns()
    recorded: dict[str, AttributeValue] = dict(attributes or {})
    try:
        yield
    except BaseException as error:
        recorded["error.type"] = type(error).__name__
        raise
    finally:
        recorded["veche.duration_ms"] = round((time.time_ns() - started) / 1e6, 3)
        for span in spans:
            span.add_event(name, recorded, timestamp=started)
