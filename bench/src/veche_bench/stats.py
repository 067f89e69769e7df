"""Pure arithmetic of the benchmark: percentiles, open-loop schedules, rates, the summary line.

Nothing here touches the network or the clock, so it is unit-tested without timing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation); None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Latency:
        return cls(
            count=len(values_ms),
            p50=percentile(values_ms, 50),
            p95=percentile(values_ms, 95),
            p99=percentile(values_ms, 99),
            max=max(values_ms) if values_ms else None,
        )


def send_offsets(rate: float, duration_s: float) -> list[float]:
    """Open-loop schedule: when (seconds after the start) each of the requests is due.

    The n-th request is due at n / rate whatever happened to the earlier ones, so a slow server
    cannot slow the generator down and hide its own queueing (no coordinated omission).
    """
    if rate <= 0 or duration_s <= 0:
        return []
    count = round(rate * duration_s)
    return [index / rate for index in range(count)]


def due_count(rate: float, elapsed_s: float, total: int) -> int:
    """How many requests of an open-loop schedule are due ``elapsed_s`` after the start."""
    if elapsed_s < 0:
        return 0
    return min(total, int(elapsed_s * rate) + 1)


def drain_rate(completion_times: Sequence[float], start: float) -> float | None:
    """Completions per second from ``start`` (the first appeal offered) to the last completion.

    Batch stages complete hundreds of appeals within one millisecond, so rates measured between
    completions only would be meaningless; from the start of the load to the last completion
    the figure includes the pipeline's fill time, which a drain of ~30 s makes small.
    """
    if len(completion_times) < 10:
        return None
    span = max(completion_times) - start
    return len(completion_times) / span if span > 0 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def slope_per_minute(samples: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) samples, in value units per minute."""
    if len(samples) < 3:
        return None
    xs = np.asarray([s[0] for s in samples], dtype=float)
    ys = np.asarray([s[1] for s in samples], dtype=float)
    if float(np.ptp(xs)) == 0.0:
        return None
    slope = float(np.polyfit(xs, ys, 1)[0])
    return slope * 60.0


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary_line(
    e2e_per_s: float | None,
    a_over_b: float | None,
    a_over_c: float | None,
    p99_at_50_ms: float | None,
) -> str:
    """The last line `make bench` prints, for scripts: fixed words, numbers in fixed places."""
    return (
        f"e2e {_fmt(e2e_per_s, 0)} appeals/s; a/b {_fmt(a_over_b, 2)}; "
        f"a/c {_fmt(a_over_c, 1)}; p99@50 {_fmt(p99_at_50_ms, 0)} ms"
    )
