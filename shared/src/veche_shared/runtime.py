"""The parts every service process builds the same way, in the order they depend on each other:
telemetry -> metrics registry -> store client -> broker; then the ASGI app around them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faststream.asgi.types import ASGIApp
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from .kafka import create_broker
from .loop_lag import LoopLagMonitor
from .mongo import Document, create_client, ping
from .service import ServiceApp, broker_check, build_service_app
from .settings import ServiceSettings
from .store_metrics import StoreCommandMetrics
from .telemetry import setup_logging, setup_tracing


@dataclass(slots=True)
class Runtime:
    settings: ServiceSettings
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    client: AsyncMongoClient[Document]
    broker: KafkaBroker

    @classmethod
    def create(cls, settings: ServiceSettings) -> Runtime:
        setup_logging(settings.service_name, settings.log_level)
        tracer_provider = setup_tracing(
            settings.service_name,
            settings.otlp_endpoint,
            sample_ratio=settings.trace_sample_ratio,
        )
        registry = CollectorRegistry()
        return cls(
            settings=settings,
            tracer_provider=tracer_provider,
            registry=registry,
            client=create_client(settings, [StoreCommandMetrics(registry, settings.service_name)]),
            broker=create_broker(settings, registry=registry),
        )

    def app(
        self,
        *,
        on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        after_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        before_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
        after_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
        fallback: ASGIApp | None = None,
    ) -> ServiceApp:
        """``on_startup`` runs before the broker starts, ``after_startup`` once it consumes
        (background tasks), ``before_shutdown`` before it drains, ``after_shutdown`` once it has
        (before the store client closes). Every service reports its event loop's lag."""
        lag = LoopLagMonitor(self.registry, self.settings.service_name)
        return build_service_app(
            service_name=self.settings.service_name,
            broker=self.broker,
            registry=self.registry,
            readiness={"broker": broker_check(self.broker), "store": self._ping_store},
            on_startup=[lag.start, *on_startup],
            after_startup=after_startup,
            on_shutdown=before_shutdown,
            after_shutdown=[*after_shutdown, lag.stop, self._close],
            fallback=fallback,
        )

    async def _ping_store(self) -> None:
        await ping(self.client)

    async def _close(self) -> None:
        # after the broker has drained: in-flight batches may still write to the store
        await self.client.close()
        self.tracer_provider.shutdown()
