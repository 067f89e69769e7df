"""``veche-bench`` (``make bench``): (a) Veche, (b) the raw relay, (c) the naive baseline, the
store's limits; one table, the latency plot, ``docs/PERFORMANCE.md``, then the summary line."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from veche_shared.testing.infra import Infra, local_infra

from .memstore import memory_store
from .observe import Window
from .report import Results, rich_table, write_docs
from .runner import Naive, NaiveIO, Relay, System, SystemResult, Veche
from .runner import Progress as ProgressReport
from .settings import SOAK_SHARE, BenchSettings, load
from .store import store_limits

WARM_UP = 100
MIN_BACKLOG = 200
MAX_DRAIN_S = 240.0
OVER_CAPACITY = 1.2  # an offered rate this far above saturation only grows a queue
TARGET_RATE = 50.0  # p99 at 50/s is a target: measured even above saturation
SETTLE_S = 60.0  # longest wait for an earlier phase's appeals before a scale-out phase


def infra_pids() -> dict[str, int]:
    """Kafka's and FerretDB's processes, to show what the broker and the store cost."""
    found: dict[str, int] = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or ())
        if "kafka.Kafka" in cmdline:
            found.setdefault("kafka", process.pid)
        elif "ferretdb" in (process.info.get("name") or "").lower():
            found.setdefault("ferretdb", process.pid)
    return found


async def warm_up(system: System, count: int = WARM_UP) -> float:
    """Consumer groups joined, caches and models loaded; returns a rough appeals/s estimate."""
    phase = await system.backlog("warm-up", f"{system.kind} warm-up", count)
    system.result.phases.pop("warm-up", None)
    return phase.window.notified_rate or phase.window.notified / max(phase.seconds, 1.0)


def sized(estimate: float, settings: BenchSettings, most: int) -> int:
    """A backlog the system drains in about ``drain_s`` at the estimated rate."""
    return max(MIN_BACKLOG, min(most, int(estimate * settings.drain_s)))


async def saturate(system: System, label: str, estimate: float, most: int) -> None:
    """Drain a backlog sized to take ~``drain_s``; once more, larger, if it went much faster
    than the warm-up suggested (a warm-up is mostly start-up, so it underestimates)."""
    settings = system.settings
    count = sized(estimate, settings, most)
    # the figure everything else is compared with: give it time to drain (3x the estimate)
    patience = min(MAX_DRAIN_S, max(settings.drain_timeout_s, 3 * count / max(estimate, 0.1)))
    phase = await system.backlog("saturation", label, count, drain_timeout=patience)
    measured = phase.window.notified_rate
    if measured and phase.seconds < settings.drain_s / 2 and count < most:
        bigger = sized(measured, settings, most)
        if bigger > count * 1.5 and system.time_left() > 2 * settings.drain_s:
            await system.backlog("saturation", label, bigger, drain_timeout=patience)


async def drain_at_saturation(
    system: System,
    label: str,
    most: int,
    console: Console,
    deadline: float,
    also_watch: Mapping[str, int] | None = None,
) -> float:
    """Warm up, then drain a backlog of at most ``most`` appeals, watching the system's
    processes, the broker's and the store's (and ``also_watch``); returns the warm-up's
    estimate of the rate."""
    system.deadline = deadline
    system.sampler.watch({**infra_pids(), **(also_watch or {})})
    estimate = await warm_up(system)
    await saturate(system, label, estimate, most)
    say(console, system, "saturation")
    return estimate


def say(console: Console, system: System, key: str) -> None:
    phase = system.result.phases.get(key)
    if phase is None:
        return
    w = phase.window
    console.log(
        f"{phase.label}: {w.notified}/{w.registered} notified, "
        f"{w.notified_rate or 0:.1f}/s (classified {w.classified_rate or 0:.1f}/s), "
        f"p50/p99 {w.latency_ms.p50 or 0:.0f}/{w.latency_ms.p99 or 0:.0f} ms "
        f"(classified p50 {w.classified_p50_ms or 0:.0f} ms), {phase.seconds:.0f} s"
    )


def rate_phases(settings: BenchSettings) -> list[tuple[str, float]]:
    """(path, rate) pairs, slowest first, HTTP before topic at each rate."""
    skip = set(settings.skip)
    pairs = [("http", r) for r in settings.http_rates if "http" not in skip]
    pairs += [("topic", r) for r in settings.topic_rates if "topic" not in skip]
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


async def rate_phase(veche: Veche, path: str, rate: float, settings: BenchSettings) -> None:
    key = f"{path}-{rate:g}"
    if path == "http":
        await veche.http_rate(key, rate, settings.rate_s)
    else:
        await veche.topic_rate(key, rate)


async def run_veche(
    settings: BenchSettings,
    infra: Infra,
    results: Results,
    tick: Progress,
    console: Console,
    deadline: float,
) -> None:
    skip = set(settings.skip)
    async with Veche(settings, infra, _reporter(tick)) as veche:
        results.veche = veche.result
        estimate = await drain_at_saturation(
            veche, "veche saturation", settings.backlog, console, deadline
        )
        saturation = results.saturation(veche.result) or estimate
        results.documents = await veche.documents_per_appeal(len(veche.collector.appeals))
        results.updates = await veche.updates_per_appeal(len(veche.collector.appeals))
        results.plan = {
            stage: max(1, round(results.documents.get(stage, (1.0, 0.0))[0]))
            for stage in ("classify", "route", "notify")
        }
        over: list[tuple[str, float]] = []
        for path, rate in rate_phases(settings):
            key = f"{path}-{rate:g}"
            if rate > OVER_CAPACITY * saturation:
                over.append((path, rate))
            elif veche.time_left() < settings.rate_s + 20:
                veche.result.notes.append(f"{key}: skipped, out of time budget")
            else:
                await rate_phase(veche, path, rate, settings)
                say(console, veche, key)
        soak_s = min(settings.soak_s, veche.time_left() - 60)
        if "soak" not in skip and soak_s >= 20:
            # well below saturation: the HTTP path sustains less than the topic saturation, and
            # above what it sustains a backlog grows and RSS with it (measured: 36.9/s offered,
            # 33/s done, ingest +2.9 MB/min; at 25/s every service flat) — a queue, not a leak
            rate = min(settings.soak_rate, SOAK_SHARE * saturation)
            soak = await veche.http_rate("soak", rate, soak_s)
            veche.keep_rss(Window(time.time() - soak.seconds, time.time()))
            say(console, veche, "soak")
        elif "soak" not in skip:
            veche.result.notes.append("soak: skipped, out of time budget")
        # Above saturation only a queue grows; 50/s is still measured (the targets name it),
        # after the soak, so its backlog spoils no other phase but the scale-out's drain.
        for path, rate in over:
            key = f"{path}-{rate:g}"
            if rate != TARGET_RATE:
                veche.result.notes.append(
                    f"{key}: skipped, above the measured saturation ({saturation:.1f}/s)"
                )
            elif veche.time_left() < settings.rate_s + 20:
                veche.result.notes.append(f"{key}: skipped, out of time budget")
            else:
                await rate_phase(veche, path, rate, settings)
                say(console, veche, key)
        if "scaleout" not in skip and veche.time_left() > 60:
            # the same backlog through one classify process, then through two in its group
            first = results.phase(veche.result, "saturation")
            classify_rate = first.window.classified_rate if first else None
            count = sized(classify_rate or estimate, settings, settings.backlog)
            await veche.settle("veche 1 classify replica", min(SETTLE_S, veche.time_left() / 4))
            await veche.backlog("classify-1", "veche 1 classify replica", count, "classified")
            say(console, veche, "classify-1")
            await veche.add_classify_replica()
            await veche.settle("veche 2 classify replicas", min(SETTLE_S, veche.time_left() / 4))
            await veche.backlog("classify-2", "veche 2 classify replicas", count, "classified")
            say(console, veche, "classify-2")
            await veche.remove_classify_replica()
        elif "scaleout" not in skip:
            veche.result.notes.append("scale-out: skipped, out of time budget")


async def run_memstore(
    settings: BenchSettings,
    infra: Infra,
    results: Results,
    tick: Progress,
    console: Console,
    deadline: float,
) -> None:
    """(a′) The same services, the same drain, against an in-memory store on the same cores:
    how far the pipeline goes when the store costs next to nothing."""
    async with memory_store(settings.state / "memstore.log") as store:
        on_memory = dataclasses.replace(infra, mongo_url=store.url)
        async with Veche(settings, on_memory, _reporter(tick)) as veche:
            results.memstore = veche.result
            await drain_at_saturation(
                veche,
                "veche saturation, in-memory store",
                settings.backlog,
                console,
                deadline,
                also_watch={"memstore": store.pid},
            )


async def run_baseline(
    kind: type[Relay],
    settings: BenchSettings,
    infra: Infra,
    results: Results,
    tick: Progress,
    console: Console,
    deadline: float,
) -> None:
    most = settings.naive_backlog if issubclass(kind, NaiveIO) else settings.backlog
    async with kind(settings, infra, _reporter(tick), results.plan, results.updates) as system:
        setattr(results, system.kind, system.result)
        await drain_at_saturation(system, f"{system.kind} saturation", most, console, deadline)
        measured = results.saturation(system.result) or 0.0
        if OVER_CAPACITY * measured < TARGET_RATE:
            system.result.notes.append(
                f"{system.kind} topic-50: skipped, above its saturation ({measured:.1f}/s)"
            )
        elif system.time_left() > settings.rate_s + 10:
            await system.topic_rate("topic-50", TARGET_RATE)
            say(console, system, "topic-50")


def _reporter(tick: Progress) -> ProgressReport:
    task = tick.add_task("starting", total=1)

    def report(label: str, done: int, total: int) -> None:
        tick.update(task, description=label, completed=done, total=max(total, 1))

    return report


async def bench(settings: BenchSettings, console: Console) -> Results:
    results = Results(settings)
    started = time.monotonic()
    deadline = started + settings.budget_s
    infra = await asyncio.to_thread(local_infra)
    skip = set(settings.skip)
    reserve = {"memstore": 75.0, "relay": 75.0, "naive": 90.0, "naive_io": 60.0, "store": 40.0}
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as tick:
        later = sum(seconds for part, seconds in reserve.items() if part not in skip)
        await run_veche(settings, infra, results, tick, console, deadline - later)
        if "memstore" not in skip:
            later -= reserve["memstore"]
            try:
                await run_memstore(settings, infra, results, tick, console, deadline - later)
            except (RuntimeError, OSError) as error:  # no JDK or Maven: the rest of the run stands
                results.memstore = results.memstore or SystemResult("veche")
                results.memstore.notes.append(f"in-memory store: not measured ({error})")
        for kind in (Relay, Naive, NaiveIO):
            if kind.kind not in skip:
                later -= reserve[kind.kind]
                await run_baseline(kind, settings, infra, results, tick, console, deadline - later)
        if "store" not in skip:
            task = tick.add_task("store limits (bench_store.py)", total=None)
            results.store = await store_limits(
                infra.mongo_url, settings.store_docs, settings.store_ops
            )
            tick.update(task, total=1, completed=1)
    results.seconds = time.monotonic() - started
    return results


def prune_state(state: Path, keep: int) -> list[Path]:
    """Deletes all but the ``keep`` newest folders of earlier runs (each holds a system's logs
    and its spans: tens to hundreds of MB); returns the ones deleted."""
    if not state.is_dir():
        return []
    folders = sorted(
        (p for p in state.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]


def main(argv: list[str] | None = None) -> int:
    settings = load(argv)
    prune_state(settings.state, settings.keep_state)
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)  # a log file: keep the table's rows on one line
    results = asyncio.run(bench(settings, console))
    console.print(rich_table(results))
    summary = results.summary()
    if settings.write_docs:
        write_docs(results, summary)
        console.print(f"wrote {settings.docs} and {settings.plot}")
    print(summary, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
