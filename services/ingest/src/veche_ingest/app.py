"""Composition root: runtime (telemetry, store, broker) -> handlers -> registrar -> HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from veche_shared.events import Event
from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp
from veche_shared.topics import APPEALS_ANSWERED, APPEALS_RECEIVED, Topic

from .closing import Closer
from .handlers import register_handlers
from .http import BodySizeLimit, create_api
from .outbox import OutboxRelay, Publish, PublishedMarks
from .registrar import Registrar
from .settings import IngestSettings
from .storage import IngestStore

DEV_CLIENT = "local-dev"


def received_publisher(runtime: Runtime, settings: IngestSettings) -> Publish:
    """Publish an appeal's received event under the trace context stored with it."""
    return event_publisher(runtime, settings, APPEALS_RECEIVED)


def event_publisher(
    runtime: Runtime, settings: IngestSettings, topic: Topic
) -> Callable[[Event, Mapping[str, str]], Awaitable[None]]:
    """Publish an appeal's event under the trace context stored with the appeal."""
    name = settings.topic_name(topic)
    publisher = runtime.broker.publisher(
        name, schema=topic.event, title=f"{name}:publish", description=topic.description
    )

    async def publish(event: Event, trace_headers: Mapping[str, str]) -> None:
        # The stored traceparent travels as given: the appeal's trace whether the request, the
        # outbox relay or, weeks later, the closing answer publishes (the broker's middleware
        # injects the current context only where none is given, and records the send as an
        # event on the span doing it).
        await publisher.publish(
            event.to_bytes(),
            key=event.key(),
            headers={"content-type": "application/json", **trace_headers},
        )

    return publish


@dataclass(slots=True)
class Intake:
    """What registers appeals, for the HTTP app and the import CLI alike."""

    store: IngestStore
    registrar: Registrar
    marks: PublishedMarks
    relay: OutboxRelay


def build_intake(runtime: Runtime, settings: IngestSettings) -> Intake:
    store = IngestStore(runtime.client, settings.database)
    publish = received_publisher(runtime, settings)
    marks = PublishedMarks(store)
    relay = OutboxRelay(
        store,
        publish,
        grace=timedelta(seconds=settings.outbox_grace_s),
        interval=settings.outbox_interval_s,
    )
    registrar = Registrar(
        store,
        publish,
        region_code=settings.region_code,
        publish_timeout=settings.publish_timeout_s,
        on_published=marks.add,
    )
    return Intake(store, registrar, marks, relay)


def create_app(settings: IngestSettings | None = None) -> ServiceApp:
    settings = settings or IngestSettings()
    runtime = Runtime.create(settings)
    intake = build_intake(runtime, settings)
    store, marks, relay = intake.store, intake.marks, intake.relay
    register_handlers(runtime.broker, settings, store)

    async def prepare_store() -> None:
        await store.create_indexes()
        if settings.open311_dev_key is not None:
            await store.add_api_client(DEV_CLIENT, settings.open311_dev_key.get_secret_value())

    closer = Closer(store, event_publisher(runtime, settings, APPEALS_ANSWERED))
    api = create_api(intake.registrar, store, settings, closer)
    relaying = relay.periodic()
    # no span per ASGI message: "http send"/"http receive" were 3 of ingest's 10 spans a request
    FastAPIInstrumentor.instrument_app(
        api, tracer_provider=runtime.tracer_provider, exclude_spans=["receive", "send"]
    )
    return runtime.app(
        on_startup=[prepare_store],
        after_startup=[marks.start, relaying.start],
        before_shutdown=[relaying.stop, marks.stop],
        fallback=BodySizeLimit(api, settings.max_body_bytes),
    )
