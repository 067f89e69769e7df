"""Composition root: runtime (telemetry, store, broker) -> model -> handlers."""

from __future__ import annotations

from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp

from .domain.baseline import KeywordClassifier
from .domain.taxonomy import load_taxonomy
from .handlers import register_handlers
from .settings import ClassifySettings
from .storage import ClassifyStore


def create_app(settings: ClassifySettings | None = None) -> ServiceApp:
    settings = settings or ClassifySettings()
    runtime = Runtime.create(settings)
    store = ClassifyStore(runtime.client, settings.database)
    classifier = KeywordClassifier(load_taxonomy(settings.taxonomy_path))
    register_handlers(runtime.broker, settings, store, classifier)
    return runtime.app(on_startup=[store.create_indexes])
