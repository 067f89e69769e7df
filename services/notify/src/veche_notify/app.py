"""Composition root: runtime (telemetry, store, broker) -> templates -> handlers."""

from __future__ import annotations

from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp

from .domain.render import Renderer
from .handlers import register_handlers
from .settings import NotifySettings
from .storage import NotifyStore


def create_app(settings: NotifySettings | None = None) -> ServiceApp:
    settings = settings or NotifySettings()
    runtime = Runtime.create(settings)
    store = NotifyStore(runtime.client, settings.database)
    register_handlers(runtime.broker, settings, store, Renderer(settings.templates_override_dir))
    return runtime.app(on_startup=[store.create_indexes])
