"""Composition root: runtime (telemetry, store, broker) -> templates, channels -> handlers, API."""

from __future__ import annotations

from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp

from .api import create_api
from .delivery import Deliverer
from .domain.render import Renderer
from .handlers import register_handlers
from .settings import NotifySettings
from .storage import NotifyStore


def create_app(settings: NotifySettings | None = None) -> ServiceApp:
    settings = settings or NotifySettings()
    runtime = Runtime.create(settings)
    store = NotifyStore(
        runtime.client, settings.database, result_linger_s=settings.result_gather_ms / 1000
    )
    renderer = Renderer(settings.templates_override_dir, settings.region_code)
    deliverer = Deliverer(settings, store)
    register_handlers(runtime.broker, settings, store, renderer, deliverer)
    return runtime.app(
        on_startup=[store.create_indexes],
        after_shutdown=[deliverer.close],
        fallback=create_api(store),
    )
