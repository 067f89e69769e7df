"""The three systems under test and the phases each one runs.

(a) Veche: the four services started by ``veche-stack`` (the code ``make up`` runs), on their
own namespace and ports. (b) the raw relay and (c) the naive baseline: four processes each.
A load generator process drives every phase; the collector and the sampler watch.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from veche_ingest.storage import received_document
from veche_shared.devtools.stack import MAIL_HTTP_PORT, MAIL_SMTP_PORT, Stack
from veche_shared.devtools.stack import SERVICES as PORTS
from veche_shared.mongo import insert_new
from veche_shared.testing.infra import Infra
from veche_shared.topics import APPEALS_RECEIVED
from veche_shared.topics_cli import drop_topics, ensure_topics

from . import storeops
from .appeals import received_event
from .hostspeed import HostSpeed
from .observe import Collector, Sampler, Window, WindowResult
from .settings import BenchSettings
from .stages import STAGES

SERVICES = ("ingest", "classify", "route", "notify")
REGISTER_BATCH = 500  # appeal documents a registering insert carries
Progress = Callable[[str, int, int], None]  # phase label, done, total


@dataclass
class PhaseResult:
    label: str
    offered_rate: float | None
    generator: dict[str, Any]
    window: WindowResult
    usage: dict[str, tuple[float, float]]
    seconds: float
    waiting: dict[str, float] = field(default_factory=dict)  # % waiting for a core, per process
    store: dict[str, float] = field(default_factory=dict)  # store work per appeal (storeops)
    host: HostSpeed | None = None  # how fast the host ran a fixed piece of work meanwhile


@dataclass(eq=False)  # compared and hashed by identity
class SystemResult:
    name: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class System:
    """A system under test on its own namespace, watched by a collector and a sampler."""

    kind = "system"

    def __init__(self, settings: BenchSettings, infra: Infra, progress: Progress) -> None:
        self.settings = settings
        self.infra = infra
        self.progress = progress
        self.namespace = f"bench{self.kind[:1]}{uuid.uuid4().hex[:8]}"
        self.collector = Collector(infra.kafka_bootstrap, self.namespace)
        self.sampler = Sampler()
        self.result = SystemResult(self.kind)
        self._run = uuid.uuid4().hex[:8]
        self._index = 0
        self.deadline = time.monotonic() + 24 * 3600  # set by the caller from the run's budget

    @property
    def intake(self) -> str:
        return APPEALS_RECEIVED.qualified(self.namespace)

    async def __aenter__(self) -> Self:
        await ensure_topics(self.infra.kafka_bootstrap, self.namespace)
        try:
            await self.start()
            await self.collector.start()
            await self.sampler.start()
        except BaseException:
            # a process that did not come up must not leave the others running on the bench's
            # ports (the next run could not bind them) or its topics behind
            await self._tear_down()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._tear_down()

    async def _tear_down(self) -> None:
        await self.sampler.stop()
        await self.collector.stop()
        await asyncio.to_thread(self.stop)
        await drop_namespace(self.infra, self.namespace)

    async def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    # -- load ------------------------------------------------------------------------------

    async def generate(self, label: str, *args: str, expected: int) -> dict[str, Any]:
        """Run a load generator process; report its progress; return its result."""
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "veche_bench.load",
            *args,
            stdout=asyncio.subprocess.PIPE,
        )
        self.sampler.watch({"load": child.pid})
        result: dict[str, Any] = {}
        assert child.stdout is not None
        async for line in child.stdout:
            message = json.loads(line)
            if "sent" in message:
                self.progress(f"{label}: sending", int(message["sent"]), expected)
            result = message.get("result", result)
        if await child.wait() != 0:
            raise RuntimeError(f"load generator failed in {label}")
        self.sampler.forget("load")
        return result

    def topic_args(self, *, rate: float = 0.0, duration: float = 0.0, count: int = 0) -> list[str]:
        args = [
            "topic",
            "--bootstrap",
            self.infra.kafka_bootstrap,
            "--topic",
            self.intake,
            "--run",
            self._run,
            "--first-index",
            str(self._index),
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--count",
            str(count),
        ]
        self._index += count or round(rate * duration)
        return args

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    async def drain(
        self, label: str, window: Window, expected: int, timeout: float, stage: str = "notified"
    ) -> None:
        """Wait until every appeal of the window reached ``stage`` (or the timeout)."""
        deadline = time.monotonic() + max(timeout, 1.0)
        while time.monotonic() < deadline:
            registered, done = self.collector.progress(window, stage)
            self.progress(f"{label}: draining", done, max(expected, registered))
            if registered >= expected and done >= registered:
                return
            await asyncio.sleep(0.5)
        registered, done = self.collector.progress(window, stage)
        self.result.notes.append(
            f"{label}: {done}/{max(expected, registered)} {stage} after {timeout:.0f} s"
        )

    async def settle(self, label: str, timeout: float) -> None:
        """Wait, up to ``timeout``, until no appeal of an earlier phase is in flight: a phase
        that compares two set-ups (one classify replica, then two) should not share the cores
        with the previous phase's tail in one of them only."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while (behind := self.collector.unfinished()) and time.monotonic() < deadline:
            self.progress(f"{label}: waiting for {behind} earlier appeals", 0, behind)
            await asyncio.sleep(0.5)

    async def phase(
        self,
        key: str,
        label: str,
        args: list[str],
        expected: int,
        rate: float | None,
        stage: str = "notified",
        drain_timeout: float | None = None,
    ) -> PhaseResult:
        started = time.monotonic()
        behind = self.collector.unfinished()
        if behind:
            self.result.notes.append(f"{label}: started with {behind} appeals still in flight")
        window = Window(time.time(), float("inf"))
        store_before = await self.store_counts()
        generated = await self.generate(label, *args, expected=expected)
        window = Window(window.start, time.time() + 0.001)
        timeout = min(drain_timeout or self.settings.drain_timeout_s, self.time_left())
        accepted = int(generated.get("accepted", expected))
        await self.drain(label, window, accepted, timeout, stage)
        finished = Window(window.start, time.time())
        store = storeops.per_appeal(store_before, await self.store_counts(), accepted)
        result = PhaseResult(
            label=label,
            offered_rate=rate,
            generator=generated,
            window=self.collector.result(window, finished.end),
            usage=self.sampler.usage(finished),
            seconds=time.monotonic() - started,
            waiting=self.sampler.waiting(finished),
            store=store,
            host=self.sampler.host_speed(finished),
        )
        self.result.phases[key] = result
        return result

    async def store_counts(self) -> storeops.Counts:
        """What the system told of its store work so far (only Veche's services do)."""
        return {}

    async def register(self, first_index: int, count: int) -> None:
        """Store what registration would have stored for the appeals a topic phase is about to
        write, before the phase starts (only Veche has such a store)."""

    async def backlog(
        self,
        key: str,
        label: str,
        count: int,
        stage: str = "notified",
        drain_timeout: float | None = None,
    ) -> PhaseResult:
        await self.register(self._index, count)
        args = self.topic_args(count=count)
        return await self.phase(key, label, args, count, None, stage, drain_timeout)

    async def topic_rate(self, key: str, rate: float) -> PhaseResult:
        duration = self.settings.rate_s
        await self.register(self._index, round(rate * duration))
        return await self.phase(
            key,
            f"{self.kind} topic {rate:g}/s",
            self.topic_args(rate=rate, duration=duration),
            round(rate * duration),
            rate,
        )

    def keep_rss(self, window: Window) -> None:
        for name, samples in self.sampler.samples.items():
            self.result.rss[name] = [
                (s.at - window.start, s.rss_mb)
                for s in samples
                if window.start <= s.at <= window.end
            ]


class Veche(System):
    kind = "veche"

    def __init__(self, settings: BenchSettings, infra: Infra, progress: Progress) -> None:
        super().__init__(settings, infra, progress)
        state = settings.state / self.namespace
        self.env = {
            **settings.service_env,
            "VECHE_NAMESPACE": self.namespace,
            "VECHE_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "VECHE_MONGO_URL": infra.mongo_url,
        }
        self.stack = Stack(state, self.env, port_offset=settings.port_offset)
        self.replica = Stack(
            state / "replica",
            {
                **self.env,
                # its traces go to the main stack's sink; the replica starts no sink of its own
                "VECHE_OTLP_ENDPOINT": f"http://127.0.0.1:{4318 + settings.port_offset}",
            },
            port_offset=settings.port_offset + 10,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{8000 + self.settings.port_offset}"

    async def start(self) -> None:
        self.progress("veche: starting the four services", 0, 1)
        await asyncio.to_thread(self.stack.up, 180.0)
        self.sampler.watch(
            {
                name: pid
                # the sinks too: on the same two cores, and Veche's letters and spans are their work
                for name in (*SERVICES, "mail-sink", "otlp-sink")
                if (pid := self.stack.pid(name)) is not None
            }
        )

    def stop(self) -> None:
        self.replica.down()
        self.stack.down()
        for letters in self.stack.state.rglob("mail"):  # the local mail sink's thousands of files
            shutil.rmtree(letters, ignore_errors=True)

    async def add_classify_replica(self) -> None:
        await asyncio.to_thread(self.replica.start, "classify")
        await asyncio.to_thread(self.replica.wait_ready, "classify", 180.0)
        pid = self.replica.pid("classify")
        if pid is not None:
            self.sampler.watch({"classify#2": pid})

    async def remove_classify_replica(self) -> None:
        await asyncio.to_thread(self.replica.stop, "classify")
        self.sampler.forget("classify#2")

    async def store_counts(self) -> storeops.Counts:
        offset = self.settings.port_offset
        services = [(name, f"http://127.0.0.1:{port + offset}") for name, port in PORTS.items()]
        if self.replica.is_running("classify"):  # the scale-out phase's second replica
            services.append(("classify", f"http://127.0.0.1:{PORTS['classify'] + offset + 10}"))
        return await storeops.snapshot(services)

    async def register(self, first_index: int, count: int) -> None:
        """Ingest's appeal document for each appeal a topic phase writes, as registration stores
        it: the appeal events of the intake topic skip ingest, but later stages' events still
        reach its timeline, which folds them into these documents' status summaries. Without
        them those updates match nothing, and the drain would skip ~3 document rewrites an
        appeal that every registered appeal costs the store."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongo_url)
        try:
            await register_appeals(
                client[f"{self.namespace}_veche_ingest"]["appeals"], self._run, first_index, count
            )
        finally:
            await client.close()

    async def http_rate(self, key: str, rate: float, duration: float) -> PhaseResult:
        args = ["http", "--url", self.url, "--rate", f"{rate:.3f}", "--duration", str(duration)]
        label = f"veche {key} http {rate:.3g}/s"
        return await self.phase(key, label, args, round(rate * duration), rate)

    async def updates_per_appeal(self, appeals: int) -> dict[str, int]:
        return await updates_per_appeal(self.infra, self.namespace, appeals)

    async def documents_per_appeal(self, appeals: int) -> dict[str, tuple[float, float]]:
        """Per service database: documents per appeal and mean document size (bytes)."""
        return await documents_per_appeal(self.infra, self.namespace, appeals, SERVICES)


class Relay(System):
    """(b) or (c): four stage processes of ``veche_bench.relay`` or ``veche_bench.naive``."""

    module = "veche_bench.relay"
    kind = "relay"

    def __init__(
        self,
        settings: BenchSettings,
        infra: Infra,
        progress: Progress,
        inserts: Mapping[str, int],
        updates: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(settings, infra, progress)
        self.inserts = inserts
        self.updates = updates or {}
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.log_dir = settings.state / self.namespace

    async def start(self) -> None:
        await asyncio.to_thread(self._spawn)
        self.sampler.watch({stage: child.pid for stage, child in self.children.items()})

    def extra_args(self) -> list[str]:
        return []

    def _spawn(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            with (self.log_dir / f"{stage}.log").open("ab") as log:
                self.children[stage] = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        self.module,
                        "--stage",
                        stage,
                        "--inserts",
                        str(self.inserts.get(stage, 1)),
                        "--updates",
                        str(self.updates.get(stage, 0)),
                        "--namespace",
                        self.namespace,
                        "--bootstrap",
                        self.infra.kafka_bootstrap,
                        "--mongo",
                        self.infra.mongo_url,
                        *self.extra_args(),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=os.environ.copy(),
                )

    def stop(self) -> None:
        for child in self.children.values():
            child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


class NaiveIO(Relay):
    """(c′) the naive shape with nothing but the I/O: records forwarded unchanged."""

    module = "veche_bench.naive"
    kind = "naive_io"


class Naive(NaiveIO):
    """(c) the same pipeline the tutorial way: Veche's domain work once per message, its
    letters to a mail sink of its own (the same sink as Veche's, on its own port)."""

    kind = "naive"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.smtp_port = MAIL_SMTP_PORT + self.settings.port_offset + 20
        self.mail = self.log_dir / "mail"

    def extra_args(self) -> list[str]:
        return ["--domain", "--smtp-port", str(self.smtp_port)]

    def _spawn(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "mail-sink.log").open("ab") as log:
            self.children["mail-sink"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "veche_notify.mail_sink",
                    "serve",
                    "--smtp-port",
                    str(self.smtp_port),
                    "--http-port",
                    str(MAIL_HTTP_PORT + self.settings.port_offset + 20),
                    "--folder",
                    str(self.mail),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        super()._spawn()

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.mail, ignore_errors=True)


async def documents_per_appeal(
    infra: Infra, namespace: str, appeals: int, kinds: tuple[str, ...]
) -> dict[str, tuple[float, float]]:
    """Per database: documents and bytes (BSON, from a sample per collection) per appeal."""
    import bson

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    found: dict[str, tuple[float, float]] = {}
    try:
        for kind in kinds:
            db = client[f"{namespace}_veche_{kind}"]
            count, size = 0, 0.0
            for name in await db.list_collection_names():
                n = await db[name].count_documents({})
                sizes = [len(bson.encode(d)) async for d in db[name].find().limit(50)]
                count += n
                size += n * (sum(sizes) / len(sizes) if sizes else 0.0)
            found[kind] = (count / max(appeals, 1), size / max(appeals, 1))
    finally:
        await client.close()
    return found


async def register_appeals(
    appeals: AsyncCollection[dict[str, Any]], run: str, first_index: int, count: int
) -> None:
    """Insert the registered appeals' documents (``received_event``'s ids: the generator's)."""
    for start in range(first_index, first_index + count, REGISTER_BATCH):
        stop = min(start + REGISTER_BATCH, first_index + count)
        documents = [
            received_document(
                received_event(index, run), trace_id=None, trace_headers={}, idempotency_key=None
            )
            for index in range(start, stop)
        ]
        await insert_new(appeals, documents)


async def updates_per_appeal(infra: Infra, namespace: str, appeals: int) -> dict[str, int]:
    """Documents Veche changed per appeal, by stage, from what its stores hold: classify rewrites
    the incident place of each appeal that has one. (Notify's delivery states are inserts,
    counted with the documents.)"""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    try:
        classifications = client[f"{namespace}_veche_classify"]["classifications"]
        placed = await classifications.count_documents({"place_key": {"$exists": True}})
    finally:
        await client.close()
    return {"classify": round(placed / max(appeals, 1))}


async def drop_namespace(infra: Infra, namespace: str) -> None:
    """Leave the shared broker and store as they were: the run's databases and topics go."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    try:
        for name in await client.list_database_names():
            if name.startswith(f"{namespace}_"):
                await client.drop_database(name)
    finally:
        await client.close()
    try:
        await drop_topics(infra.kafka_bootstrap, namespace)
    except Exception as error:  # tidying up must not hide the figures
        print(f"could not delete the bench topics: {error}", file=sys.stderr)
