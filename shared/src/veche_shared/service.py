"""What every service process serves besides its subscribers.

``/healthz`` (the process is alive), ``/readyz`` (broker and store reachable), ``/metrics``
(Prometheus) and ``/docs/asyncapi``; ingest adds its HTTP API as a fallback ASGI app.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, make_asgi_app

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


class ServiceApp(AsgiFastStream):
    """An ASGI FastStream application that hands unknown paths to an optional HTTP API."""

    def __init__(self, *args: Any, fallback: ASGIApp | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fallback = fallback

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._fallback is not None and scope["type"] in {"http", "websocket"}:
            await self._fallback(scope, receive, send)
            return
        await super().not_found(scope, receive, send)


def json_response(status: int, body: dict[str, Any]) -> ASGIApp:
    payload = json.dumps(body, ensure_ascii=False).encode()

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return respond


def health_app(service_name: str) -> ASGIApp:
    async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
        await json_response(200, {"status": "ok", "service": service_name})(scope, receive, send)

    return healthz


def readiness_app(checks: dict[str, ReadinessCheck], timeout: float = 2.0) -> ASGIApp:
    async def readyz(scope: Scope, receive: Receive, send: Send) -> None:
        results = await asyncio.gather(*(_run_check(check, timeout) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        ready = all(value == "ok" for value in report.values())
        await json_response(200 if ready else 503, {"ready": ready, "checks": report})(
            scope, receive, send
        )

    return readyz


async def _run_check(check: ReadinessCheck, timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except Exception as error:  # a readiness probe reports, it never raises
        return f"failed: {type(error).__name__}"
    return "ok"


def broker_check(broker: KafkaBroker) -> ReadinessCheck:
    async def check() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("broker unreachable")

    return check


def build_service_app(
    *,
    service_name: str,
    broker: KafkaBroker,
    registry: CollectorRegistry,
    readiness: dict[str, ReadinessCheck],
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    after_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    after_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    fallback: ASGIApp | None = None,
) -> ServiceApp:
    return ServiceApp(
        broker,
        asgi_routes=[
            ("/healthz", health_app(service_name)),
            ("/readyz", readiness_app(readiness)),
            ("/metrics", make_asgi_app(registry)),
        ],
        asyncapi_path="/docs/asyncapi",
        on_startup=on_startup,
        after_startup=after_startup,
        on_shutdown=on_shutdown,
        after_shutdown=after_shutdown,
        fallback=fallback,
        logger=log,
    )


# Young-generation size of the cyclic garbage collector (CPython's default: 700 allocations).
# A batch's events, documents and spans live across a few awaits; at 700 they survived two
# young collections and were promoted, and the promotions triggered full collections.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Move everything built at start (modules, settings, the classifier's model) out of the
    cyclic collector's reach, and collect young objects less often.

    Measured at 50 appeals/s: each service ran a full collection every 4-8 s, each walking
    every object it had imported or loaded — 0.3 s of a stalled event loop (classify: 173 000
    objects), 30-45 ms of CPU per second per service. Start-up objects live as long as the
    process, so freezing them loses nothing (``gc.freeze``, as the docs advise for servers).
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def serve(app: ASGIApp, *, host: str, port: int) -> None:
    """Run a service the same way locally, in e2e tests and in containers."""
    import uvicorn

    settle_heap()
    uvicorn.run(app, host=host, port=port, lifespan="on", log_config=None, access_log=False)
