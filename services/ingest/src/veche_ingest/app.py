"""Composition root: telemetry -> store -> broker -> handlers -> HTTP API."""

from __future__ import annotations

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CollectorRegistry

from veche_shared.events import AppealReceivedV1
from veche_shared.kafka import create_broker
from veche_shared.mongo import create_client, ping
from veche_shared.service import ServiceApp, broker_check, build_service_app
from veche_shared.telemetry import setup_logging, setup_tracing
from veche_shared.topics import APPEALS_RECEIVED

from .api import BodySizeLimit, create_api
from .handlers import register_handlers
from .registrar import Registrar
from .settings import IngestSettings
from .storage import IngestStore


def create_app(settings: IngestSettings | None = None) -> ServiceApp:
    settings = settings or IngestSettings()
    setup_logging(settings.service_name, settings.log_level)
    tracer_provider = setup_tracing(settings.service_name, settings.otlp_endpoint)
    registry = CollectorRegistry()
    client = create_client(settings)
    store = IngestStore(client, settings.database)
    broker = create_broker(settings, tracer_provider=tracer_provider, registry=registry)
    register_handlers(broker, settings, store)

    received = broker.publisher(
        settings.topic_name(APPEALS_RECEIVED),
        schema=AppealReceivedV1,
        title=f"{settings.topic_name(APPEALS_RECEIVED)}:publish",
        description=APPEALS_RECEIVED.description,
    )

    async def publish_received(event: AppealReceivedV1) -> None:
        await received.publish(
            event.to_bytes(), key=event.key(), headers={"content-type": "application/json"}
        )

    registrar = Registrar(store, publish_received, settings.region_code)
    api = create_api(registrar, store)
    FastAPIInstrumentor.instrument_app(api, tracer_provider=tracer_provider)

    async def close() -> None:
        await client.close()
        tracer_provider.shutdown()

    return build_service_app(
        service_name=settings.service_name,
        broker=broker,
        registry=registry,
        readiness={"broker": broker_check(broker), "store": lambda: ping(client)},
        on_startup=[store.create_indexes],
        after_shutdown=[close],
        fallback=BodySizeLimit(api, settings.max_body_bytes),
    )
