"""What the bench watches while it runs: event timestamps on the topics, and the processes.

The collector reads the received, classified and notified topics of one namespace with a plain
aiokafka consumer outside any consumer group. Latency is ``notified.occurred_at`` (notify's
clock, after recording) minus ``received.appeal.registered_at`` (ingest's clock, at
registration): the events' own timestamps, no polling of the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_NOTIFIED, APPEALS_RECEIVED

from . import hostspeed
from .stats import Latency, drain_rate

OWN_CAUSES = (None, "appeal.routed")  # the notified event answering the routed one


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class Appeal:
    registered_at: float | None = None
    notified_at: float | None = None
    classified_at: float | None = None
    classified_records: int = 0
    classified_ids: set[str] = field(default_factory=set)
    notified_records: int = 0
    notified_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Window:
    """The appeals registered in [start, end) (wall clock, seconds)."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class WindowResult:
    registered: int
    notified: int
    latency_ms: Latency
    censored: int  # not notified when the phase ended: their latency is a lower bound
    notified_rate: float | None
    classified_rate: float | None
    classified_p50_ms: float | None  # registered → classified (ingest + classify)
    classified_duplicates: int  # appeals with more than one distinct classified event
    classified_redeliveries: int  # appeals whose classified event appeared more than once
    notified_duplicates: int


class Collector:
    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.topics = {
            APPEALS_RECEIVED.qualified(namespace): "received",
            APPEALS_CLASSIFIED.qualified(namespace): "classified",
            APPEALS_NOTIFIED.qualified(namespace): "notified",
        }
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # Latency comes from the timestamps on the events, not from when they are read, so
            # the collector may gather: the broker holds each fetch up to a quarter second
            # instead of answering every record on its own (at 50 appeals/s the collector took
            # ~8 % of a core from the machine it measures).
            fetch_max_wait_ms=250,
            fetch_min_bytes=1024 * 1024,
        )
        self.appeals: dict[str, Appeal] = defaultdict(Appeal)
        self.bad_records = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    self._take(self.topics[record.topic], record.value or b"")

    def _take(self, kind: str, value: bytes) -> None:
        try:
            data: Any = json.loads(value)
            appeal = self.appeals[str(data["appeal_id"])]
            if kind == "received":
                appeal.registered_at = _ts(data["appeal"]["registered_at"])
            elif kind == "classified":
                appeal.classified_records += 1
                appeal.classified_ids.add(str(data["event_id"]))
                if appeal.classified_at is None:
                    appeal.classified_at = _ts(data["occurred_at"])
            elif data.get("cause") in OWN_CAUSES:  # deadline notifications come later: not ours
                appeal.notified_records += 1
                appeal.notified_ids.add(str(data["event_id"]))
                if appeal.notified_at is None:
                    appeal.notified_at = _ts(data["occurred_at"])
        except (ValueError, KeyError, TypeError):
            self.bad_records += 1

    def in_window(self, window: Window) -> list[Appeal]:
        return [
            a
            for a in self.appeals.values()
            if a.registered_at is not None and window.start <= a.registered_at < window.end
        ]

    def progress(self, window: Window, stage: str = "notified") -> tuple[int, int]:
        """Appeals registered in the window, and how many of them reached ``stage``."""
        appeals = self.in_window(window)
        if stage == "classified":
            return len(appeals), sum(1 for a in appeals if a.classified_at is not None)
        return len(appeals), sum(1 for a in appeals if a.notified_at is not None)

    def unfinished(self) -> int:
        """Appeals seen entering the pipeline and not yet out of it."""
        return sum(
            1
            for a in self.appeals.values()
            if a.registered_at is not None and a.notified_at is None
        )

    def result(self, window: Window, until: float) -> WindowResult:
        """Figures of the window's appeals; one not notified by ``until`` counts as taking at
        least ``until - registered_at`` (censored), so a backlog cannot flatter the latency."""
        appeals = self.in_window(window)
        done = [a for a in appeals if a.notified_at is not None and a.registered_at is not None]
        open_ = [a for a in appeals if a.notified_at is None and a.registered_at is not None]
        latencies = [
            (a.notified_at - a.registered_at) * 1000  # type: ignore[operator]
            for a in done
        ] + [(until - a.registered_at) * 1000 for a in open_]  # type: ignore[operator]
        classified_times = [a.classified_at for a in appeals if a.classified_at is not None]
        to_classified = [
            (a.classified_at - a.registered_at) * 1000
            for a in appeals
            if a.classified_at is not None and a.registered_at is not None
        ]
        return WindowResult(
            registered=len(appeals),
            notified=len(done),
            latency_ms=Latency.of(latencies),
            censored=len(open_),
            notified_rate=drain_rate(
                [a.notified_at for a in done],  # type: ignore[misc]
                window.start,
            ),
            classified_rate=drain_rate(classified_times, window.start),
            classified_p50_ms=Latency.of(to_classified).p50,
            classified_duplicates=sum(1 for a in appeals if len(a.classified_ids) > 1),
            classified_redeliveries=sum(1 for a in appeals if a.classified_records > 1),
            notified_duplicates=sum(1 for a in appeals if len(a.notified_ids) > 1),
        )


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    cpu_percent: float
    rss_mb: float
    # runnable but not running (the run queue), its threads summed, % of the interval
    waiting_percent: float = 0.0


def run_queue_ms(pid: int) -> float | None:
    """Milliseconds the process's threads have spent runnable but waiting for a core, since
    they started (Linux schedstat); ``None`` where the kernel does not say."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    waited_ns = 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                waited_ns += int(stat.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended between the listing and the read
    return waited_ns / 1e6


def _sampled_in(window: Window, at: float) -> bool:
    """A sample belongs to the window its phase ran in, both ends included."""
    return window.start <= at <= window.end


STEAL = "steal"  # the machine's CPU the hypervisor gave to others: the same code runs slower


class Sampler:
    """CPU (% of one core) and resident memory of named processes, once a second; under
    :data:`STEAL`, the CPU time the virtual machine waited for its host (% of one core); and
    how long a fixed piece of Python work took the host (:mod:`hostspeed`, in a process of its
    own, ~0.5 % of a core)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.samples: dict[str, list[Sample]] = defaultdict(list)
        self.host: list[tuple[float, float]] = []  # (at, CPU ms of one unit of fixed work)
        self._processes: dict[str, psutil.Process] = {}
        self._waited: dict[str, tuple[float, float]] = {}  # name: (at, run-queue ms so far)
        self._task: asyncio.Task[None] | None = None
        self._probe: asyncio.subprocess.Process | None = None
        self._probe_reader: asyncio.Task[None] | None = None

    def watch(self, pids: Mapping[str, int]) -> None:
        for name, pid in pids.items():
            try:
                process = psutil.Process(pid)
                process.cpu_percent(None)  # the first call only starts the measurement
                self._processes[name] = process
            except psutil.NoSuchProcess:
                continue

    def forget(self, *names: str) -> None:
        for name in names:
            self._processes.pop(name, None)

    async def start(self) -> None:
        psutil.cpu_times_percent(None)  # the first call only starts the measurement
        self._task = asyncio.create_task(self._run())
        self._probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "veche_bench.hostspeed",
            "--interval",
            str(self.interval),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._probe_reader = asyncio.create_task(self._read_probe(self._probe))

    async def stop(self) -> None:
        for task in (self._task, self._probe_reader):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._probe and self._probe.returncode is None:
            self._probe.kill()
            await self._probe.wait()

    async def _read_probe(self, probe: asyncio.subprocess.Process) -> None:
        assert probe.stdout is not None
        async for line in probe.stdout:
            sample = hostspeed.parse_line(line.decode(errors="replace"))
            if sample is not None:
                self.host.append(sample)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = time.time()
            for name, process in list(self._processes.items()):
                try:
                    with process.oneshot():
                        cpu = process.cpu_percent(None)
                        rss = process.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    self._processes.pop(name, None)
                    continue
                waiting = self._waiting_percent(name, process.pid, now)
                self.samples[name].append(Sample(now, cpu, rss, waiting))
            steal = getattr(psutil.cpu_times_percent(None), "steal", 0.0) * psutil.cpu_count()
            self.samples[STEAL].append(Sample(now, steal, 0.0))

    def _waiting_percent(self, name: str, pid: int, now: float) -> float:
        waited = run_queue_ms(pid)
        if waited is None:
            return 0.0
        previous = self._waited.get(name)
        self._waited[name] = (now, waited)
        if previous is None or now <= previous[0]:
            return 0.0
        return (waited - previous[1]) / ((now - previous[0]) * 1000) * 100

    def waiting(self, window: Window) -> dict[str, float]:
        """Per process: mean % of the window its threads were runnable but waiting for a core
        (over the window's ticks, as :meth:`usage`): high, the process was short of CPU; low
        while it is slow, it waits on something else."""
        ticks = self._ticks(window)
        result: dict[str, float] = {}
        for name, samples in self.samples.items():
            inside = [s.waiting_percent for s in samples if _sampled_in(window, s.at)]
            if inside and name != STEAL:
                result[name] = sum(inside) / max(ticks, len(inside))
        return result

    def host_speed(self, window: Window) -> hostspeed.HostSpeed | None:
        """How fast the host ran the fixed work through the window (``None``: not sampled)."""
        inside = [ms for at, ms in self.host if _sampled_in(window, at)]
        return hostspeed.summarise(inside) if inside else None

    def _ticks(self, window: Window) -> int:
        """Samples the window holds: one a tick, the host's steal sampled at every one."""
        return sum(1 for s in self.samples.get(STEAL, ()) if _sampled_in(window, s.at))

    def usage(self, window: Window) -> dict[str, tuple[float, float]]:
        """Per process: mean CPU % over the whole window and peak RSS (MB).

        The mean is taken over every tick of the window, not over the process's own samples: a
        process that lived through part of it (the load generator writes a 6 000-appeal backlog
        in under a second, then exits) counts as idle for the rest. Averaged over its own samples
        it showed ~100 % of a core beside a drain of ~30 s, and the machine's total with it."""
        result: dict[str, tuple[float, float]] = {}
        ticks = self._ticks(window)
        for name, samples in self.samples.items():
            inside = [s for s in samples if _sampled_in(window, s.at)]
            if inside:
                result[name] = (
                    sum(s.cpu_percent for s in inside) / max(ticks, len(inside)),
                    max(s.rss_mb for s in inside),
                )
        return result
