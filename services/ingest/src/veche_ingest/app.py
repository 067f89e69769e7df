"""Composition root: runtime (telemetry, store, broker) -> handlers -> HTTP API."""

from __future__ import annotations

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from veche_shared.events import AppealReceivedV1
from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp
from veche_shared.topics import APPEALS_RECEIVED

from .api import BodySizeLimit, create_api
from .handlers import register_handlers
from .registrar import Registrar
from .settings import IngestSettings
from .storage import IngestStore


def create_app(settings: IngestSettings | None = None) -> ServiceApp:
    settings = settings or IngestSettings()
    runtime = Runtime.create(settings)
    store = IngestStore(runtime.client, settings.database)
    register_handlers(runtime.broker, settings, store)

    topic = settings.topic_name(APPEALS_RECEIVED)
    received = runtime.broker.publisher(
        topic,
        schema=AppealReceivedV1,
        title=f"{topic}:publish",
        description=APPEALS_RECEIVED.description,
    )

    async def publish_received(event: AppealReceivedV1) -> None:
        await received.publish(
            event.to_bytes(), key=event.key(), headers={"content-type": "application/json"}
        )

    api = create_api(Registrar(store, publish_received, settings.region_code), store)
    FastAPIInstrumentor.instrument_app(api, tracer_provider=runtime.tracer_provider)
    return runtime.app(
        on_startup=[store.create_indexes], fallback=BodySizeLimit(api, settings.max_body_bytes)
    )
