"""Composition root: runtime (telemetry, store, broker) -> model -> handlers and operator API."""

from __future__ import annotations

import sklearn
from threadpoolctl import threadpool_limits
from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp

from . import artefact
from .api import create_api
from .domain.locations import NatashaLocations
from .domain.taxonomy import load_taxonomy
from .domain.triage import Triage
from .handlers import register_handlers
from .settings import ClassifySettings
from .storage import ClassifyStore


def build_triage(settings: ClassifySettings) -> Triage:
    """The trained model from the artefact in the repository: nothing is downloaded."""
    # One BLAS thread: the matrices per batch are small, and OpenBLAS's extra threads spin
    # while waiting -- measured as twice the CPU per appeal once the NER model had run.
    # Scale with partitions and replicas instead. (threadpoolctl comes with scikit-learn.)
    threadpool_limits(limits=1, user_api="blas")
    # The model's inputs are TF-IDF rows of our own making (finite, well-formed): scikit-learn's
    # per-call input and parameter checks were ~12 % of a one-appeal batch's scoring.
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    return Triage(
        artefact.load(settings.model_path),
        review_threshold=settings.review_threshold,
        ner=NatashaLocations() if settings.ner == "fallback" else None,
    )


def create_app(settings: ClassifySettings | None = None) -> ServiceApp:
    settings = settings or ClassifySettings()
    runtime = Runtime.create(settings)
    store = ClassifyStore(runtime.client, settings.database)
    triage = build_triage(settings)
    register_handlers(runtime.broker, settings, store, triage)
    topics = list(load_taxonomy(settings.taxonomy_path).codes)
    api = create_api(store, runtime.broker, settings, topics)
    return runtime.app(on_startup=[store.create_indexes], fallback=api)
