"""The event-loop lag monitor: a step that holds the loop shows up as lag, an idle loop does not."""

import asyncio
import time

from prometheus_client import CollectorRegistry
from veche_shared.loop_lag import LoopLagMonitor


def _lag(registry: CollectorRegistry, bucket: str) -> float:
    value = registry.get_sample_value(
        "veche_event_loop_lag_seconds_bucket", {"service": "unit", "le": bucket}
    )
    return value or 0.0


def _count(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("veche_event_loop_lag_seconds_count", {"service": "unit"}) or 0


def hold_the_loop(seconds: float) -> None:
    """A CPU-bound step: nothing else on the loop runs until it returns."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_a_step_that_holds_the_loop_is_recorded_as_lag():
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, "unit", interval=0.01)
    await monitor.start()
    await asyncio.sleep(0.05)
    hold_the_loop(0.3)
    await asyncio.sleep(0.05)
    await monitor.stop()

    assert _count(registry) >= 3
    # the wake-up due during the hold ran at least ~0.29 s late: above the 0.25 s bucket
    assert _lag(registry, "0.25") < _count(registry)


async def test_an_idle_loop_runs_its_wake_ups_on_time():
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, "unit", interval=0.01)
    await monitor.start()
    await asyncio.sleep(0.2)
    await monitor.stop()
    ticks = _count(registry)

    assert ticks >= 5
    assert _lag(registry, "0.25") == ticks  # none was held for anything like a blocking step
    await asyncio.sleep(0.05)
    assert _count(registry) == ticks  # stopped: no more wake-ups
