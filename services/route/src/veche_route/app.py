"""Composition root: runtime (telemetry, store, broker) -> territory and rules -> handlers."""

from __future__ import annotations

from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp

from .domain.routing import Router
from .handlers import register_handlers
from .settings import RouteSettings
from .storage import RouteStore


def create_app(settings: RouteSettings | None = None) -> ServiceApp:
    settings = settings or RouteSettings()
    runtime = Runtime.create(settings)
    store = RouteStore(runtime.client, settings.database)
    router = Router.from_files(settings.region_file, settings.rules_file, settings.receiving_body)
    register_handlers(runtime.broker, settings, store, router)
    return runtime.app(on_startup=[store.create_indexes])
