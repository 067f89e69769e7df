"""Composition root: runtime (telemetry, store, broker) -> territory, rules, terms -> handlers,
SLA watcher and the HTTP API (rules admin, deadlines)."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from veche_shared.events import AppealDeadlineV1
from veche_shared.runtime import Runtime
from veche_shared.service import ServiceApp
from veche_shared.taxonomy import topics
from veche_shared.topics import APPEALS_DEADLINE

from .domain.routing import Router, load_yaml
from .domain.rules import Catalog, RuleSpec
from .domain.ruleset import RuleState
from .handlers import register_handlers
from .http import create_api
from .rulebook import RuleSource
from .settings import RouteSettings
from .storage import RouteStore
from .watcher import DeadlineWatcher, Publish


def deadline_publisher(runtime: Runtime, settings: RouteSettings) -> Publish:
    topic = settings.topic_name(APPEALS_DEADLINE)
    publisher = runtime.broker.publisher(
        topic,
        schema=AppealDeadlineV1,
        title=f"{topic}:publish",
        description=APPEALS_DEADLINE.description,
    )

    async def publish(event: AppealDeadlineV1) -> None:
        await publisher.publish(
            event.to_bytes(), key=event.key(), headers={"content-type": "application/json"}
        )

    return publish


def rule_source(store: RouteStore, router: Router, settings: RouteSettings) -> RuleSource:
    seed = load_yaml(settings.rules_file)
    catalog = Catalog(
        topics={topic.code for topic in topics()},
        territories=set(router.territory.municipalities),
        department_keys=set(router.department_keys),
    )
    return RuleSource(
        store=store,
        state=RuleState(last_resort=router.rules.last_resort.spec),
        catalog=catalog,
        seed=tuple(RuleSpec.model_validate(rule) for rule in seed["rules"]),
        seed_actor=f"seed:{settings.rules_file.name}",
        reread_s=settings.rules_reread_s,
    )


def build_router(settings: RouteSettings) -> Router:
    """Territory, seed rules and terms from the configured files."""
    return Router.from_files(
        settings.region_file,
        settings.rules_file,
        settings.receiving_body,
        settings.terms_file,
        settings.copy_topic_confidence,
    )


def create_app(settings: RouteSettings | None = None) -> ServiceApp:
    settings = settings or RouteSettings()
    runtime = Runtime.create(settings)
    store = RouteStore(runtime.client, settings.database)
    router = build_router(settings)
    rules = rule_source(store, router, settings)
    watcher = DeadlineWatcher(
        store=store,
        publish=deadline_publisher(runtime, settings),
        horizon=timedelta(hours=settings.due_soon_hours),
        interval=settings.watch_interval_s,
        republish_after=timedelta(seconds=settings.notice_republish_s),
        extension_max_days=router.terms.extension_max_days,
        batch=settings.watch_batch,
    )
    register_handlers(runtime.broker, settings, store, router, rules)
    api = create_api(rules, store, watcher)
    # no span per ASGI message: "http send"/"http receive" were 3 of ingest's 10 spans a request
    FastAPIInstrumentor.instrument_app(
        api, tracer_provider=runtime.tracer_provider, exclude_spans=["receive", "send"]
    )

    async def prepare_store() -> None:
        await store.create_indexes()
        await rules.start()

    watching = watcher.periodic()
    return runtime.app(
        on_startup=[prepare_store],
        after_startup=[watching.start],
        before_shutdown=[watching.stop],
        fallback=api,
    )
