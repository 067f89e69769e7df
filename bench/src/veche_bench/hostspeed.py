"""How fast the host runs Python at a given moment: a fixed piece of work, timed in CPU time.

On this kind of virtual machine identical runs minutes apart differ by a third or more with no
steal reported: the same work takes more CPU time at some moments than at others (most likely
neighbours on the shared cores and caches; this virtual machine cannot see them). A drain's
rate alone cannot tell a slower host from slower code, and a ratio of two drains minutes apart
(a/b, a/c) carries the host's drift between them. The same work, timed through each phase,
says which it was.

The work is the kind the services do most (dicts, strings, JSON); it is timed with the calling
thread's CPU clock, so waiting for a core does not count, only how long the work itself took.
It runs in a process of its own (``python -m veche_bench.hostspeed``, one unit a second, a
line each): timed on a thread of the bench's own process it read up to 70 % slower than a
separate probe beside it over the same drains (the bench's collector thread is the likely
cause), while the separate probe read the host as steady. The bench's sampler reads those
lines, so every phase has the host's speed over its own window.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass

ITEMS = 10_000  # one unit of work: ~5 ms of CPU on this project's machine when it is fast;
# sampled once a second beside the bench, that is ~0.5 % of a core


@dataclass(frozen=True)
class HostSpeed:
    """CPU milliseconds one unit of the fixed work took (the median), and of how many units."""

    median_ms: float
    units: int


def unit(items: int = ITEMS) -> int:
    table = {str(index): index * 3 for index in range(items)}
    decoded = json.loads(json.dumps(table))
    return len(decoded) + sum(table.values()) % 7


def summarise(durations_ms: list[float]) -> HostSpeed:
    if not durations_ms:
        raise ValueError("no unit of work was timed")
    return HostSpeed(statistics.median(durations_ms), len(durations_ms))


def timed_unit(items: int = ITEMS) -> float:
    """CPU milliseconds one unit took, on the calling thread's own CPU clock."""
    started = time.thread_time_ns()
    unit(items)
    return (time.thread_time_ns() - started) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time a fixed unit of work, once an interval")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between units")
    args = parser.parse_args(argv)
    while True:
        print(f"{time.time():.3f} {timed_unit():.3f}", flush=True)
        time.sleep(args.interval)


def parse_line(line: str) -> tuple[float, float] | None:
    """(at, ms) from one line the probe printed; ``None`` for anything else."""
    try:
        at, ms = line.split()
        return float(at), float(ms)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(main())
