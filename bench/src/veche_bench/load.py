"""Load generators, run as their own process so their CPU is not the collector's.

    python -m veche_bench.load http  --url http://127.0.0.1:8300 --rate 200 --duration 15
    python -m veche_bench.load topic --bootstrap B --topic NS.appeals.received.v1 --rate 200 ...
    python -m veche_bench.load topic ... --count 5000       # a backlog, as fast as possible

Both are open-loop: the n-th appeal is due at n / rate seconds whatever the server does. Each
prints JSON lines: ``{"sent": n}`` about every half second, then one ``{"result": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from .appeals import received_event, submission
from .stats import Latency, due_count, send_offsets

REPORT_S = 0.5


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


async def open_loop(
    rate: float, count: int, fire: Callable[[int, float], Coroutine[Any, Any, None]]
) -> float:
    """Start ``fire(index, due_at)`` for every request when it is due; return the elapsed time."""
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    started = 0
    last_report = start
    while started < count:
        now = time.perf_counter()
        due = count if rate <= 0 else due_count(rate, now - start, count)
        while started < due:
            due_at = start + (started / rate if rate > 0 else 0.0)
            task = asyncio.create_task(fire(started, due_at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            started += 1
        if now - last_report >= REPORT_S:
            emit({"sent": started})
            last_report = now
        # Sleep until the next request is due (a fixed 2 ms tick woke the generator 500 times
        # a second: ~5 % of a core taken from the machine it measures at any rate).
        await asyncio.sleep(_until_next(rate, started, start, last_report))
    if tasks:
        await asyncio.gather(*tasks)
    emit({"sent": started})
    return time.perf_counter() - start


def _until_next(rate: float, started: int, start: float, last_report: float) -> float:
    if rate <= 0:
        return 0.0  # a backlog: as fast as possible
    now = time.perf_counter()
    next_due = start + started / rate
    return max(0.0, min(next_due, last_report + REPORT_S) - now)


async def run_http(url: str, rate: float, duration: float, connections: int) -> dict[str, Any]:
    count = len(send_offsets(rate, duration))
    statuses: Counter[str] = Counter()
    latencies_ms: list[float] = []
    # aiohttp: the generator shares the two cores with what it measures, and per request it
    # costs about a third of httpx's CPU (profiled: httpx's pool queue grew with the square of
    # the requests waiting, and its request path alone took a third of a core at 50/s).
    # Requests wait for one of the connections here; the wait still counts as latency.
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:

        async def fire(index: int, due_at: float) -> None:
            try:
                async with client.post("/appeals", json=submission(index)) as response:
                    await response.read()
                statuses[str(response.status)] += 1
                if response.status in (200, 201, 202):
                    # from when it was due, not when it was sent: queueing counts
                    latencies_ms.append((time.perf_counter() - due_at) * 1000)
            except (aiohttp.ClientError, TimeoutError) as error:
                statuses[type(error).__name__] += 1

        elapsed = await open_loop(rate, count, fire)
    accepted = sum(n for code, n in statuses.items() if code in ("200", "201", "202"))
    http = Latency.of(latencies_ms)
    return {
        "offered": count,
        "accepted": accepted,
        "elapsed_s": elapsed,
        "statuses": dict(statuses),
        "http_p50_ms": http.p50,
        "http_p99_ms": http.p99,
    }


async def run_topic(
    bootstrap: str, topic: str, rate: float, count: int, run: str, first_index: int
) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    failures: Counter[str] = Counter()
    acked: list[asyncio.Future[Any]] = []
    try:

        async def fire(index: int, due_at: float) -> None:
            event = received_event(first_index + index, run)  # registered_at: now
            acked.append(await producer.send(topic, event.to_bytes(), key=event.key()))

        elapsed = await open_loop(rate, count, fire)
        for result in await asyncio.gather(*acked, return_exceptions=True):
            if isinstance(result, BaseException):
                failures[type(result).__name__] += 1
    finally:
        await producer.stop()
    return {
        "offered": count,
        "accepted": count - sum(failures.values()),
        "elapsed_s": elapsed,
        "statuses": dict(failures),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    http = sub.add_parser("http", help="POST /appeals over HTTP")
    http.add_argument("--url", required=True)
    http.add_argument("--rate", type=float, required=True)
    http.add_argument("--duration", type=float, required=True)
    http.add_argument("--connections", type=int, default=64)
    topic = sub.add_parser("topic", help="write AppealReceivedV1 events to the intake topic")
    topic.add_argument("--bootstrap", required=True)
    topic.add_argument("--topic", required=True)
    topic.add_argument("--rate", type=float, default=0.0, help="0: as fast as possible")
    topic.add_argument("--duration", type=float, default=0.0)
    topic.add_argument("--count", type=int, default=0, help="with --rate 0: a backlog")
    topic.add_argument("--run", required=True, help="makes the appeal ids unique per run")
    topic.add_argument("--first-index", type=int, default=0)
    args = parser.parse_args(argv)
    if args.mode == "http":
        result = asyncio.run(run_http(args.url, args.rate, args.duration, args.connections))
    else:
        count = args.count or len(send_offsets(args.rate, args.duration))
        result = asyncio.run(
            run_topic(args.bootstrap, args.topic, args.rate, count, args.run, args.first_index)
        )
    emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
