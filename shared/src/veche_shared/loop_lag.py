"""How late a service's event loop runs what was due: ``veche_event_loop_lag_seconds``.

Every stage of a service (HTTP requests, consumers, background tasks) shares one event loop; a
CPU-bound step (decoding a large batch, a model's scoring, a garbage collection) holds all of
them for as long as it runs. The monitor asks the loop to wake it every ``interval`` seconds and
records how much later than asked it woke: the time something held the loop. A request's
latency that the spans cannot explain is usually here.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Histogram

# from "nothing held it" to "a request stalled for seconds"
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LoopLagMonitor:
    """Wake-ups scheduled with ``call_at`` (no task, nothing to await): ~10 a second cost the
    loop microseconds."""

    def __init__(self, registry: CollectorRegistry, service: str, interval: float = 0.1) -> None:
        self.interval = interval
        self.lag = Histogram(
            "veche_event_loop_lag_seconds",
            "how much later than due the event loop ran a periodic wake-up: the time a step "
            "held the loop (CPU-bound work, a blocking call, a garbage collection)",
            ["service"],
            buckets=LAG_BUCKETS,
            registry=registry,
        ).labels(service=service)
        self._handle: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        if self._handle is None:
            self._schedule(asyncio.get_running_loop())

    async def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        due = loop.time() + self.interval
        self._handle = loop.call_at(due, self._woke, loop, due)

    def _woke(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self.lag.observe(max(0.0, loop.time() - due))
        self._schedule(loop)
