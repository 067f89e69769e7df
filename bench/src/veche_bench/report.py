"""The one table, the summary line, the latency plot and ``docs/PERFORMANCE.md``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import storeops
from .observe import STEAL
from .runner import PhaseResult, SystemResult
from .settings import SOAK_SHARE, BenchSettings
from .stats import ratio, slope_per_minute, summary_line

SECONDS_A_YEAR = 365 * 24 * 3600
PEAK_FACTOR = 20  # a storm / heating-outage day against the yearly mean
TARGET_UTILISATION = 0.6
INDEX_OVERHEAD = 1.5
VOLUMES = (1_000_000, 10_000_000, 100_000_000)
SERVICE_PROCESSES = ("ingest", "classify", "route", "notify")
MEMSTORE = "memstore"  # the in-memory store's process in (a′)
STAGE_OF = {"ingest": "timeline", "classify": "classify", "route": "route", "notify": "notify"}


@dataclass
class Results:
    settings: BenchSettings
    veche: SystemResult | None = None
    relay: SystemResult | None = None
    naive: SystemResult | None = None
    naive_io: SystemResult | None = None  # (c′): the naive shape without the domain work
    memstore: SystemResult | None = None  # (a′): Veche on an in-memory store
    store: dict[str, float | None] = field(default_factory=dict)
    documents: dict[str, tuple[float, float]] = field(default_factory=dict)
    plan: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)  # of own documents, per appeal
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    def phase(self, system: SystemResult | None, key: str) -> PhaseResult | None:
        return system.phases.get(key) if system else None

    def saturation(self, system: SystemResult | None) -> float | None:
        phase = self.phase(system, "saturation")
        return phase.window.notified_rate if phase else None

    @property
    def p99_at_50(self) -> float | None:
        for key in ("http-50", "topic-50"):
            phase = self.phase(self.veche, key)
            if phase and phase.window.latency_ms.p99 is not None:
                return phase.window.latency_ms.p99
        return None

    def summary(self) -> str:
        a = self.saturation(self.veche)
        return summary_line(
            a,
            ratio(a, self.saturation(self.relay)),
            ratio(a, self.saturation(self.naive)),
            self.p99_at_50,
        )


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _latency(phase: PhaseResult | None) -> str:
    if phase is None:
        return "–"
    lat = phase.window.latency_ms
    text = f"{_n(lat.p50)} / {_n(lat.p95)} / {_n(lat.p99)}"
    if phase.window.censored or phase.window.registered == 0:
        # the unfinished ones count as "at least this long": the figures are lower bounds
        text = f"≥ {text} ({phase.window.notified}/{phase.window.registered} done)"
    return text


def _usage(phase: PhaseResult | None, name: str) -> str:
    if phase is None or name not in phase.usage:
        return "–"
    cpu, rss = phase.usage[name]
    return f"{cpu:.0f}% CPU, {rss:.0f} MB"


def core_ms_per_appeal(phase: PhaseResult | None) -> float | None:
    """CPU the system's processes spent per appeal drained (the load generator and the host's
    steal left out): the work per appeal, which the host's share of the machine does not move
    the way it moves a drain rate."""
    rate = phase.window.notified_rate if phase else None
    if phase is None or not rate:
        return None
    busy = sum(cpu for name, (cpu, _) in phase.usage.items() if name not in ("load", STEAL))
    return busy * 10 / rate  # % of a core = 10 core-ms per second


def _process_ms(phase: PhaseResult | None, name: str) -> float | None:
    """Core-ms one process spent per appeal drained."""
    rate = phase.window.notified_rate if phase else None
    if phase is None or not rate or name not in phase.usage:
        return None
    return phase.usage[name][0] * 10 / rate


def _on_memory_store(results: Results) -> str:
    phase = results.phase(results.memstore, "saturation")
    if phase is None:
        return "–"
    cost = core_ms_per_appeal(phase)
    return (
        f"{_n(phase.window.notified_rate)} · {_n(cost, 1)} ({_n(_process_ms(phase, MEMSTORE), 1)})"
    )


def _waiting(phase: PhaseResult | None) -> str:
    """The busiest waiters first: where a stage queued for CPU instead of running."""
    if phase is None or not phase.waiting:
        return "–"
    ranked = sorted(
        ((name, value) for name, value in phase.waiting.items() if name != "load"),
        key=lambda item: item[1],
        reverse=True,
    )
    return " · ".join(f"{name} {value:.0f}" for name, value in ranked[:4]) or "–"


def _steal(phase: PhaseResult | None) -> str:
    if phase is None or STEAL not in phase.usage:
        return "–"
    return f"{phase.usage[STEAL][0]:.0f}%"


def _host(phase: PhaseResult | None) -> str:
    if phase is None or phase.host is None:
        return "–"
    return f"{phase.host.median_ms:.1f}"


def rows(results: Results) -> list[tuple[str, str, str, str, str]]:
    """(measure, a Veche, b raw relay, c naive, store) — the one table, text only."""
    veche, relay, naive = results.veche, results.relay, results.naive
    a, b, c = (results.saturation(s) for s in (veche, relay, naive))
    table: list[tuple[str, str, str, str, str]] = [
        ("saturation, intake topic → notified (appeals/s)", _n(a), _n(b), _n(c), ""),
        (
            "ratio a/b · a/c",
            f"{_n(ratio(a, b), 2)} · {_n(ratio(a, c), 1)}",
            "",
            "",
            "",
        ),
        (
            "(a′) Veche on an in-memory store (mongo-java-server): appeals/s · core-ms per "
            "appeal (the store's)",
            _on_memory_store(results),
            "",
            "",
            "",
        ),
        (
            "(c′) naive, I/O only (no domain work): appeals/s · a/c′",
            "",
            "",
            f"{_n(results.saturation(results.naive_io))} · "
            f"{_n(ratio(a, results.saturation(results.naive_io)), 1)}",
            "",
        ),
        (
            "latency @50/s via topic, p50/p95/p99 ms",
            _latency(results.phase(veche, "topic-50")),
            _latency(results.phase(relay, "topic-50")),
            _latency(results.phase(naive, "topic-50")),
            "",
        ),
    ]
    for key, phase in veche.phases.items() if veche else ():
        if key.startswith(("http-", "topic-")) and phase.offered_rate:
            path = "HTTP" if key.startswith("http") else "topic"
            done = phase.window.notified_rate
            table.append(
                (
                    f"Veche {path} {phase.offered_rate:g}/s: p50/p95/p99 ms · done/s · "
                    "core-ms · store commands an appeal",
                    f"{_latency(phase)} · {_n(done)} · {_n(core_ms_per_appeal(phase), 1)} · "
                    f"{_n(phase.store.get('commands'), 2)}",
                    "",
                    "",
                    "",
                )
            )
            if path == "HTTP":
                gen = phase.generator
                table.append(
                    (
                        f"  HTTP {phase.offered_rate:g}/s: client p50/p99 ms · accepted",
                        f"{_n(gen.get('http_p50_ms'))} / {_n(gen.get('http_p99_ms'))} · "
                        f"{gen.get('accepted', 0)}/{gen.get('offered', 0)}",
                        "",
                        "",
                        "",
                    )
                )
    one, two = results.phase(veche, "classify-1"), results.phase(veche, "classify-2")
    if one and two:
        r1, r2 = one.window.classified_rate, two.window.classified_rate
        table.append(
            (
                f"classify 1 → 2 replicas, {two.window.registered} appeals (classified/s, ×)",
                f"{_n(r1)} → {_n(r2)} (×{_n(ratio(r2, r1), 2)})",
                "",
                "",
                "",
            )
        )
        table.append(
            (
                "  2 replicas: appeals classified twice · redelivered",
                f"{two.window.classified_duplicates} · {two.window.classified_redeliveries}"
                f" of {two.window.registered}",
                "",
                "",
                "",
            )
        )
    sat = {s: results.phase(s, "saturation") for s in (veche, relay, naive)}
    for name in (*SERVICE_PROCESSES, "mail-sink", "otlp-sink", "kafka", "ferretdb", "load"):
        stage = STAGE_OF.get(name, name)
        table.append(
            (
                f"at saturation: {name}" + (f" / {stage}" if stage != name else ""),
                _usage(sat[veche], name),
                _usage(sat[relay], stage),
                _usage(sat[naive], stage),
                "",
            )
        )
    for label, cell in (
        ("at saturation: CPU the host took (steal, % of a core)", _steal),
        ("at saturation: waiting for a core (% of the drain, threads summed)", _waiting),
        ("at saturation: host speed, median CPU ms of a fixed work unit (lower: faster)", _host),
    ):
        table.append((label, cell(sat[veche]), cell(sat[relay]), cell(sat[naive]), ""))
    cost = {system: core_ms_per_appeal(sat[system]) for system in (veche, relay, naive)}
    table.append(
        (
            "at saturation: core-ms per appeal, all watched processes (steal not counted)",
            _n(cost[veche], 1),
            _n(cost[relay], 1),
            _n(cost[naive], 1),
            "",
        )
    )
    if veche and veche.rss:
        for name in SERVICE_PROCESSES:
            samples = veche.rss.get(name, [])
            if samples:
                table.append(
                    (
                        f"soak: {name} RSS first → last, slope",
                        f"{samples[0][1]:.0f} → {samples[-1][1]:.0f} MB, "
                        f"{_n(slope_per_minute(samples), 1)} MB/min",
                        "",
                        "",
                        "",
                    )
                )
    documents = sum(d for d, _ in results.documents.values())
    planned = sum(results.plan.values()) + 3  # + the timeline entry per output event
    table.append(
        (
            "documents stored per appeal",
            _n(documents, 1),
            str(planned) if results.plan else "–",
            str(planned) if results.plan else "–",
            "",
        )
    )
    if results.updates:
        # Veche's own: the documents each stage changes + the timeline's status summary, at
        # most once per downstream event (3), once per appeal when they share a batch
        changed = f"≤ {sum(results.updates.values()) + 3}"
        drained = results.phase(veche, "saturation")
        measured = storeops.total_of(drained.store, "updated") if drained else 0.0
        table.append(
            (
                "documents updated per appeal",
                f"{measured:.1f} in the drain ({changed})" if measured else changed,
                changed,
                changed,
                "",
            )
        )
    table.extend(_store_work(results.phase(veche, "saturation")))
    for operation, value in results.store.items():
        table.append((f"store: {operation}", "", "", "", _n(value)))
    return table


def _changed(results: Results) -> str:
    """What Veche updated per appeal: measured in the drain where its counters say, else the
    design's bound."""
    drained = results.phase(results.veche, "saturation")
    measured = storeops.by_service(drained.store, "updated") if drained else []
    if measured:
        listed = ", ".join(f"{service} {value:.2f}" for service, value in measured)
        total = sum(value for _, value in measured)
        return (
            f"updated {total:.1f} documents per appeal in the drain ({listed}: ingest's status "
            "summary once per appeal in each timeline batch, a backlog's stages seconds apart "
            "put an appeal's events in different batches; classify's incident places)"
        )
    bound = sum(results.updates.values()) + 3 if results.updates else None
    return (
        f"changes at most {bound or 'several'} documents per appeal (ingest's status summary, "
        "classify's incident place)"
    )


def _store_work(phase: PhaseResult | None) -> list[tuple[str, str, str, str, str]]:
    """Veche's store work per appeal in the drain, by its services' own counters."""
    ops = phase.store if phase else {}
    if not ops.get("commands"):
        return []
    work = (
        f"{_n(ops['commands'], 2)} · {_n(storeops.total_of(ops, 'inserted'), 1)} · "
        f"{_n(storeops.total_of(ops, 'updated'), 1)} · {_n(ops.get('finds', 0.0), 2)}"
    )
    label = "at saturation: store commands · documents inserted · updated · finds, an appeal"
    return [(label, work, "", "", "")]


HEADERS = ("measure", "(a) Veche", "(b) raw relay", "(c) naive", "store")


def rich_table(results: Results) -> object:
    from rich.table import Table

    table = Table(title="Veche benchmark", show_lines=False)
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    for row in rows(results):
        table.add_row(*row)
    return table


def markdown_table(results: Results) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows(results)]
    return "\n".join(lines)


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    series = (
        ("http-", "Veche via HTTP", "tab:blue", results.veche),
        ("topic-", "Veche via intake topic", "tab:green", results.veche),
        ("topic-", "raw relay (b)", "tab:gray", results.relay),
        ("topic-", "naive (c)", "tab:red", results.naive),
    )
    for prefix, label, colour, system in series:
        if system is None:
            continue
        phases = sorted(
            (p for k, p in system.phases.items() if k.startswith(prefix) and p.offered_rate),
            key=lambda p: p.offered_rate or 0,
        )
        points = [(p.offered_rate, p.window.latency_ms) for p in phases if p.window.latency_ms.p99]
        if not points:
            continue
        rates = [float(r or 0) for r, _ in points]
        p99 = [float(lat.p99 or 0) for _, lat in points]
        axes.plot(rates, p99, "o-", color=colour, label=f"{label} p99")
        axes.plot(
            rates,
            [float(lat.p50 or 0) for _, lat in points],
            "x--",
            color=colour,
            alpha=0.6,
            label=f"{label} p50",
        )
    axes.axhline(300, color="black", linewidth=0.8, linestyle=":", label="target p99 @50/s")
    axes.set_xlabel("offered rate, appeals/s")
    axes.set_ylabel("accepted → notification recorded, ms")
    axes.set_yscale("log")
    axes.set_xlim(left=0)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    axes.set_title("Latency vs offered rate (2 cores, Kafka + FerretDB co-located)", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


# what a stage that is not CPU-bound waits on (its round trips, batched)
WAITS_ON = {
    "": "the store and the broker (batched round trips)",
    "notify": "the store, the broker and the SMTP relay (batched round trips; 3-4 letters "
    "per appeal, four round trips each)",
}
IDLE_MACHINE = 170  # % of the two cores: below this the drain did not fill the machine
# % of the drain a process's threads were runnable but waiting for a core (the run queue,
# schedstat): above this it was short of CPU rather than waiting on I/O
SHORT_OF_CPU = 25


def _service_verdict(name: str, cpu: float, waiting: float | None) -> str:
    if cpu >= 85:
        return "CPU-bound: its one event loop is saturated — more replicas (partitions allow 6)"
    if waiting is not None and waiting >= SHORT_OF_CPU:
        return (
            "short of CPU — runnable but not running for much of the drain: every stage, the "
            "broker and the store share the two cores"
        )
    return f"not CPU-bound — it waits on {WAITS_ON.get(name, WAITS_ON[''])}"


def limits_text(results: Results) -> list[str]:
    """What stops each stage, read off the saturation phase's CPU figures."""
    phase = results.phase(results.veche, "saturation")
    if phase is None:
        return ["(no saturation phase was run)"]
    lines = []
    usage = {name: value for name, value in phase.usage.items() if name != STEAL}
    total = sum(cpu for cpu, _ in usage.values())
    steal = phase.usage.get(STEAL, (0.0, 0.0))[0]
    for name in (*SERVICE_PROCESSES, "mail-sink", "otlp-sink", "kafka", "ferretdb"):
        if name not in phase.usage:
            continue
        cpu, rss = phase.usage[name]
        waiting = phase.waiting.get(name)
        if name in SERVICE_PROCESSES:
            verdict = _service_verdict(name, cpu, waiting)
        elif name == "mail-sink":
            verdict = "the local stand-in for an SMTP relay (aiosmtpd), on the same two cores"
        elif name == "otlp-sink":
            verdict = "the local stand-in for a trace collector (every span), on the same two cores"
        else:
            verdict = "shared infrastructure on the same two cores"
        queued = f" (waiting for a core {waiting:.0f}% of the time)" if waiting is not None else ""
        lines.append(
            f"- **{name}**: {cpu:.0f}% of one core{queued}, {rss:.0f} MB resident — {verdict}."
        )
    lines += cpu_per_appeal_text(results, usage)
    load = usage.get("load", (0.0, 0.0))[0]
    idle = (
        f" {200 - total - steal:.0f}% of the machine stayed idle over the whole drain: "
        "where the stages also waited for a core (above), the idle share is the drain's end, "
        "one stage finishing alone; where they did not, a stage's chain of waits bounded it."
        if total + steal < IDLE_MACHINE
        else ""
    )
    lines.append(
        f"- **the machine**: the watched processes used {total:.0f}% of the 200% two cores "
        f"give ({load:.0f}% of it the load generator), and the host took {steal:.0f}% of a core "
        "(steal: this virtual machine's CPUs waiting for the hypervisor); other work on the "
        f"machine is not in these figures but competes for the same cores.{idle}"
    )
    lines += host_text(results)
    lines += memory_store_text(results)
    store_inserts = results.store.get("inserts/s (insert_many, 500/batch)")
    documents = sum(d for d, _ in results.documents.values())
    sat = results.saturation(results.veche)
    if store_inserts and documents and sat:
        share = sat * documents / store_inserts
        lines.append(
            f"- **the store**: {documents:.1f} documents per appeal × {sat:.0f} appeals/s = "
            f"{sat * documents:,.0f} inserts/s against its measured {store_inserts:,.0f} "
            f"bulk inserts/s ({share:.0%} of the store's insert limit)."
        )
    return lines


def _drain_hosts(results: Results) -> dict[str, float]:
    """The host's median unit time through each system's saturation drain, by the table's label."""
    systems = {
        "(a)": results.veche,
        "(b)": results.relay,
        "(c)": results.naive,
        "(a′)": results.memstore,
    }
    speeds = {}
    for label, system in systems.items():
        phase = results.phase(system, "saturation")
        if phase is not None and phase.host is not None:
            speeds[label] = phase.host.median_ms
    return speeds


def host_text(results: Results) -> list[str]:
    """How fast the host was through each system's drain, and what that does to the ratios."""
    speeds = _drain_hosts(results)
    if "(a)" not in speeds:
        return []
    listed = ", ".join(f"{ms:.1f} ms through {label}'s" for label, ms in speeds.items())
    compared = [
        _beside_a(label, speeds["(a)"] / ms)
        for label, ms in speeds.items()
        if label in ("(b)", "(c)")
    ]
    systems = (results.veche, results.relay, results.naive, results.memstore)
    every = [
        phase.host.median_ms
        for system in systems
        if system is not None
        for phase in system.phases.values()
        if phase.host is not None
    ]
    return [
        f"- **the host's speed**: a fixed piece of Python work (dicts, JSON; "
        f"`veche_bench.hostspeed`, a process of its own timing one unit a second) took a "
        f"median {listed} drain"
        + (f"; {'; '.join(compared)}" if compared else "")
        + f". Across this run's phases its median went from {min(every):.1f} to "
        f"{max(every):.1f} ms. Steal (above) counts only the CPU the hypervisor took; the same "
        "work also takes longer at other times (most likely neighbours on the shared cores and "
        "caches), the same code then spends more CPU an appeal, and a ratio of two drains "
        "carries the difference between their hosts."
    ]


def _beside_a(label: str, relative: float) -> str:
    """``relative``: (a)'s unit time over the other's (above 1: the other's host was faster)."""
    if abs(relative - 1) < 0.05:
        return f"{label}'s host was as fast as (a)'s (within 5 %)"
    if relative > 1:
        return f"{label}'s host was {relative - 1:.0%} faster than (a)'s"
    return f"{label}'s host was {1 - relative:.0%} slower than (a)'s"


def memory_store_text(results: Results) -> list[str]:
    """How much of the limit is FerretDB's: (a′) beside (a)."""
    on_memory = results.phase(results.memstore, "saturation")
    on_ferret = results.phase(results.veche, "saturation")
    if on_memory is None or on_ferret is None:
        return []
    fast, slow = on_memory.window.notified_rate, on_ferret.window.notified_rate
    cost = core_ms_per_appeal(on_memory)
    store_ms = _process_ms(on_memory, MEMSTORE)
    ferret_ms = _process_ms(on_ferret, "ferretdb")
    services_ms = sum(_process_ms(on_memory, name) or 0.0 for name in SERVICE_PROCESSES)
    if not fast or not slow or not cost or store_ms is None or ferret_ms is None:
        return []
    return [
        f"- **the store's share of the limit**: on an in-memory MongoDB-protocol store "
        f"(mongo-java-server: nothing on disk, the same two cores) the same code drains "
        f"{fast:.0f} appeals/s, ×{fast / slow:.2f} its rate on FerretDB, at {cost:.1f} core-ms "
        f"an appeal — the store {store_ms:.1f} of them against FerretDB's {ferret_ms:.1f}. "
        f"What is left is the pipeline's own: the four services {services_ms:.1f} core-ms an "
        f"appeal, so even a store that cost nothing here would leave two otherwise idle cores "
        f"at most {2000 / services_ms:.0f} appeals/s; the mail and trace sinks, stand-ins for "
        "servers elsewhere, take some of the rest."
    ]


def cpu_per_appeal_text(results: Results, usage: Mapping[str, tuple[float, float]]) -> list[str]:
    """Core-milliseconds each process spends per appeal at saturation, and the ceiling they set."""
    sat = results.saturation(results.veche)
    if not sat:
        return []
    costs = sorted(
        ((cpu * 10 / sat, name) for name, (cpu, _) in usage.items() if name != "load"),
        reverse=True,
    )
    total = sum(ms for ms, _ in costs)
    listed = ", ".join(f"{name} {ms:.1f}" for ms, name in costs)
    lines = [
        f"- **CPU per appeal** (core-ms at saturation): {listed}; {total:.1f} in all, so two "
        f"otherwise idle cores would carry at most {2000 / total:.0f} appeals/s."
        if total
        else "- **CPU per appeal**: not measured."
    ]
    if costs and costs[0][1] == "ferretdb":
        changed = _changed(results)
        updates = results.store.get("updates/s (bulk_write 40 UpdateOne)")
        inserts = results.store.get("inserts/s (insert_many, 500/batch)")
        rates = (
            f" (measured here: {updates:,.0f} updates/s against {inserts:,.0f} documents "
            "inserted per second in batches)"
            if updates and inserts
            else ""
        )
        lines.append(
            "- **verdict**: the store costs the most per appeal. Every command FerretDB "
            "answers is a SQLite transaction with Go JSON around it, and an update is a read, "
            f"a rewrite and a commit{rates}; Veche {changed}; notify's delivery states are "
            "inserts. A real MongoDB via `VECHE_MONGO_URL` moves this limit."
        )
    if costs and costs[0][1] == "notify":
        lines.append(
            "- **verdict**: notify costs the most per appeal — it is the stage doing the most "
            "real work: every letter (3-4 per appeal) is rendered, built as MIME and sent over "
            "SMTP (reused sessions, but MAIL, RCPT, DATA and the text are four round trips per "
            "letter; aiosmtplib does not pipeline) to the local mail sink, and each send is an "
            "event on its appeal's span. The relay (b) sends nothing, so this is domain work "
            "(a) does and (b) does not. While upstream drains, every stage waits for a core "
            "as long as it runs (the run queue above): the two cores are the limit, shared "
            "evenly between the processes (the kernel schedules each session as a group); "
            "once upstream is done, "
            "notify works through what is left in one process, and the machine is partly idle. "
            "Less CPU per appeal, in every stage, is what moves the drain."
        )
    return lines


TARGET_RATE = 560.0  # appeals/s: a month of national volume (670 000) in 20 minutes
TARGET_P99_MS = 300.0  # at 50 appeals/s
# a soak's RSS growing by at most this much is flat (a 90 s soak's noise is ±0.8); memory given
# back after the saturation drain (a falling RSS) is not a leak
FLAT_MB_PER_MIN = 1.0


def _verdict(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**not met**")


def _at_least(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def targets_text(results: Results) -> list[str]:
    """The issue's targets against this run's figures, one row each."""
    a, b, c = (results.saturation(s) for s in (results.veche, results.relay, results.naive))
    on_memory = results.saturation(results.memstore)
    p99 = {
        path: phase.window.latency_ms.p99
        for path in ("http", "topic")
        if (phase := results.phase(results.veche, f"{path}-50")) is not None
    }
    slopes = {
        name: slope_per_minute(samples)
        for name, samples in (results.veche.rss if results.veche else {}).items()
        if name in SERVICE_PROCESSES
    }
    known_slopes = [v for v in slopes.values() if v is not None]
    rows = [
        ("a ≥ 0.5 · b", f"a/b {_n(ratio(a, b), 2)}", _at_least(ratio(a, b), 0.5)),
        # two decimals: a 4.97 shown as "5.0" beside "not met" reads as a contradiction
        ("a ≥ 5 · c", f"a/c {_n(ratio(a, c), 2)}", _at_least(ratio(a, c), 5.0)),
        (
            f"≥ {TARGET_RATE:.0f} appeals/s end to end",
            f"{_n(a)}/s on FerretDB; {_n(on_memory)}/s on the in-memory store (a′)",
            _at_least(max(a or 0.0, on_memory or 0.0) or None, TARGET_RATE),
        ),
        (
            f"p99 ≤ {TARGET_P99_MS:.0f} ms at 50 appeals/s",
            " · ".join(f"{path} {_n(value)} ms" for path, value in p99.items()) or "–",
            None if not p99 else all(v is not None and v <= TARGET_P99_MS for v in p99.values()),
        ),
        (
            "memory per service flat",
            " · ".join(f"{name} {_n(v, 1)}" for name, v in slopes.items()) + " MB/min"
            if slopes
            else "–",
            all(v <= FLAT_MB_PER_MIN for v in known_slopes) if known_slopes else None,
        ),
    ]
    return [
        "| target | this run | |",
        "|---|---|---|",
        *(f"| {target} | {figure} | {_verdict(met)} |" for target, figure, met in rows),
        "",
        f"Memory is read from this run's soak ({results.settings.soak_s:g} s; an RSS growing by "
        f"at most {FLAT_MB_PER_MIN:g} MB/min counts as flat, a falling one is memory given "
        "back); the ten-minute soaks are below.",
        *_hosts_of_the_targets(results),
    ]


def _hosts_of_the_targets(results: Results) -> list[str]:
    """The host's speed through the phases the targets are read from: a ratio or a tail met
    or missed on a slow host is read differently."""
    drains = {k: v for k, v in _drain_hosts(results).items() if k != "(a′)"}
    rates = [
        (label, results.phase(results.veche, key))
        for label, key in (("HTTP 50/s", "http-50"), ("topic 50/s", "topic-50"))
    ]
    known = [*drains.items()]
    known += [(label, p.host.median_ms) for label, p in rates if p is not None and p.host]
    if not known:
        return []
    listed = " · ".join(f"{label} {ms:.1f}" for label, ms in known)
    return [
        "",
        f"The host's speed through those phases (median CPU ms of a fixed unit of Python work; "
        f"lower is faster): {listed}.",
    ]


@dataclass(frozen=True, slots=True)
class Cost:
    """Core-ms an appeal per service, measured at ``rate`` appeals/s."""

    rate: float
    services: Mapping[str, float]


def measured_costs(results: Results) -> list[Cost]:
    """Each service's core-ms an appeal at every rate Veche ran at (offered rates and the
    saturation drain), slowest first. Where one rate was offered over HTTP and over the topic,
    the dearer of the two counts per service (HTTP adds ingest's registrations)."""
    by_rate: dict[float, dict[str, float]] = {}
    for key, phase in results.veche.phases.items() if results.veche else ():
        rate = phase.offered_rate or (phase.window.notified_rate if key == "saturation" else None)
        if not rate or not key.startswith(("saturation", "http-", "topic-")):
            continue
        costs = by_rate.setdefault(rate, {})
        for name in SERVICE_PROCESSES:
            ms = _process_ms(phase, name)
            if ms is not None:
                costs[name] = max(ms, costs.get(name, 0.0))
    return [Cost(rate, costs) for rate, costs in sorted(by_rate.items()) if costs]


def cost_at(costs: Sequence[Cost], rate: float) -> Cost | None:
    """The cost an appeal at ``rate``: that measured at the highest rate not above it (fewer
    appeals a second share fewer batches, so a lower rate costs at least as much an appeal).
    Below the slowest rate measured, the slowest's: its batches hold about one appeal already,
    and an appeal never costs more than a batch of its own."""
    if not costs:
        return None
    below = [cost for cost in costs if cost.rate <= rate]
    return below[-1] if below else costs[0]


def capacity_text(results: Results) -> list[str]:
    sat = results.saturation(results.veche)
    phase = results.phase(results.veche, "saturation")
    if not sat or phase is None:
        return ["(needs the saturation phase)"]
    core_s = {
        name: phase.usage[name][0] / 100 / sat for name in SERVICE_PROCESSES if name in phase.usage
    }
    costs = measured_costs(results)
    per_appeal_bytes = sum(b for _, b in results.documents.values())
    documents = sum(d for d, _ in results.documents.values())
    lines = [
        f"Measured inputs: {sat:.0f} appeals/s through the whole pipeline on 2 shared cores; "
        "CPU per appeal in that drain (core-milliseconds) "
        + ", ".join(f"{n} {v * 1000:.2f}" for n, v in core_s.items())
        + f"; {documents:.1f} documents and {per_appeal_bytes / 1024:.1f} KiB stored per appeal "
        f"(BSON, before indexes). Peak = {PEAK_FACTOR}× the yearly mean rate (a storm day); "
        f"replicas sized for {TARGET_UTILISATION:.0%} CPU at peak, at least 2 for availability; "
        f"store size ×{INDEX_OVERHEAD} for indexes and free space.",
        "",
        *_cost_by_rate_lines(costs),
        "| appeals a year | mean / peak appeals/s | core-ms an appeal at the peak "
        "(measured at) | cores the services use at the peak | replicas ingest · classify · "
        "route · notify "
        "| partitions per topic | store per year | store inserts/s at peak "
        "| pipelines at the measured rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for volume in VOLUMES:
        mean = volume / SECONDS_A_YEAR
        peak = mean * PEAK_FACTOR
        at_peak = cost_at(costs, peak)  # None only if no phase recorded the services' CPU
        ms = dict(at_peak.services) if at_peak else {}
        replicas = {
            name: max(2, math.ceil(peak * ms.get(name, 0.0) / 1000 / TARGET_UTILISATION))
            for name in SERVICE_PROCESSES
        }
        partitions = max(6, 2 * max(replicas.values()))
        gigabytes = volume * per_appeal_bytes * INDEX_OVERHEAD / 1e9
        measured_at = f"{at_peak.rate:.0f}/s" if at_peak else "not measured"
        lines.append(
            f"| {volume:,} | {mean:.2f} / {peak:.1f} | {sum(ms.values()):.1f} ({measured_at}) "
            f"| {peak * sum(ms.values()) / 1000:.2f} | "
            + " · ".join(str(replicas[n]) for n in SERVICE_PROCESSES)
            + f" | {partitions} | {gigabytes:,.1f} GB | {peak * documents:,.0f} "
            f"| {math.ceil(peak / sat)} |"
        )
    lines += [
        "",
        f"What the 2-core figures imply: one such box sustains {sat:.0f} appeals/s, i.e. "
        f"{sat * SECONDS_A_YEAR / 1e9:.1f} billion a year of pure throughput; even 100 M a year "
        f"peaks at {100_000_000 / SECONDS_A_YEAR * PEAK_FACTOR:.0f}/s. Throughput is therefore "
        "not what sizes the cluster as long as one pipeline's measured rate is above the peak "
        "(last column: how many independent pipelines — store included — the peak needs at "
        "today's rate; where it is above 1 the store, not the replicas, must grow first). "
        "Otherwise replicas are for availability and rolling updates, "
        "partitions (6 per topic, never fewer than twice the largest consumer group) leave room "
        "to scale consumers without re-keying, and the store is sized by retention (59-ФЗ "
        "appeals are kept for years: multiply the yearly figure by the retention period). "
        "A month of national volume (670 000) at the measured rate takes "
        f"{670_000 / sat / 60:.0f} minutes.",
    ]
    return lines


def _cost_by_rate_lines(costs: Sequence[Cost]) -> list[str]:
    """The four services' core-ms an appeal at each measured rate: a stage pays its store round
    trips, publish and commit once a batch, and below saturation a batch holds few appeals."""
    if len(costs) < 2:
        return []
    totals = [(c.rate, sum(c.services.values())) for c in costs]
    cheapest = min(total for _, total in totals)
    listed = "; ".join(f"{rate:.0f}/s {ms:.1f} (×{ms / cheapest:.1f})" for rate, ms in totals)
    return [
        "The four services' core-ms an appeal by rate (measured in this run; × the cheapest): "
        f"{listed}. A stage pays its round trips (store, publish, commit) once a batch, and at "
        "a few dozen appeals a second a batch holds one or two appeals: the cost an appeal is "
        "read at the peak each volume sees, not at saturation.",
        "",
    ]


KEPT_BEGIN = "<!-- kept: measured by hand; `make bench` keeps this block as it is -->"
KEPT_END = "<!-- kept: end -->"


def kept_block(previous: str | None) -> list[str]:
    """The hand-written block of the previous ``docs/PERFORMANCE.md`` (separate runs such as the
    ten-minute soaks), markers included, so that regenerating the file does not lose it."""
    if not previous or KEPT_BEGIN not in previous:
        return []
    start = previous.index(KEPT_BEGIN)
    end = previous.find(KEPT_END, start)
    block = previous[start:] if end < 0 else previous[start : end + len(KEPT_END)]
    return [*block.rstrip().splitlines(), *([] if end >= 0 else [KEPT_END]), ""]


def write_docs(results: Results, summary: str) -> None:
    settings = results.settings
    previous = settings.docs.read_text() if settings.docs.exists() else None
    systems = (results.veche, results.memstore, results.relay, results.naive, results.naive_io)
    notes = [n for s in systems if s for n in s.notes]
    text = "\n".join(
        [
            "# Performance",
            "",
            "<!-- written by `make bench` (bench/src/veche_bench); rerun it, "
            "and edit only the kept block -->",
            "",
            f"**{settings.label}** of {results.started:%Y-%m-%d %H:%M} UTC, "
            f"{results.seconds / 60:.1f} minutes, "
            "on this project's 2-core machine with Kafka (KRaft) and FerretDB 1.24 (SQLite) "
            "co-located. Settings: "
            f"HTTP rates {settings.http_rates}, topic rates {settings.topic_rates}, "
            f"{settings.rate_s:g} s per rate, backlog {settings.backlog} "
            f"(naive {settings.naive_backlog}), soak {settings.soak_s:g} s at "
            f"{settings.soak_rate:g}/s at most ({SOAK_SHARE:g} of saturation).",
            "",
            "```",
            summary,
            "```",
            "",
            *targets_text(results),
            "",
            "## The table",
            "",
            markdown_table(results),
            "",
            *([f"Incomplete phases: {'; '.join(notes)}.", ""] if notes else []),
            "![latency vs offered rate](latency.png)",
            "",
            "## What was measured",
            "",
            "- **(a) Veche**: the four services exactly as `make up` runs them (`veche-stack`, "
            "tracing to the local sink included), on a namespace and ports of their own. "
            "Latency is `appeals.notified.v1` `occurred_at` (notify, after recording) minus "
            "`appeals.received.v1` `appeal.registered_at` (ingest, at registration), read from "
            "the topics by a plain consumer — no polling. Load comes from a separate generator "
            "process, open-loop (the n-th appeal is due at n/rate whatever the server does): "
            "over HTTP (`POST /appeals`, aiohttp, 64 connections) and, separately, straight into "
            "`appeals.received.v1`, which separates the HTTP cost from the pipeline cost "
            "(before a topic phase its appeals are stored as registration stores them, outside "
            "the phase's window, so ingest's status updates change real documents, as they do "
            "for every registered appeal). "
            "Saturation is a backlog (sized from a warm-up to take ~30 s) drained by the "
            "pipeline: appeals notified per second from the first appeal written to the last "
            "one notified. Store work an appeal (commands, documents inserted and updated) is "
            "read from the services' own `veche_store_commands_total` and "
            "`veche_store_statements_total` before and after each phase.",
            "- **(b) raw relay** (`veche_bench.relay`): four aiokafka/PyMongo processes with the "
            "same hops, the same delivery (batch poll, unordered bulk insert keyed by `_id`, "
            "batched produce with `acks=all` + idempotence, commit after every ack) and the "
            "same documents per appeal as Veche stored in this run and as many of them changed "
            "again by `_id` as Veche changes (classify's incident place; notify's delivery "
            "states are unique inserts, counted with the documents), plus a timeline consumer "
            "that inserts one entry per event and updates one summary per appeal in each "
            "batch, as ingest does. "
            "No domain logic: the ceiling of this hardware and store.",
            "- **(c) naive** (`veche_bench.naive --domain`): the same pipeline written the "
            "tutorial way — FastStream handler per message, Veche's own domain code per message "
            "(`veche_bench.domain`: the trained model, the rule book, the templates and the SMTP "
            "sender, letters one after another to a mail sink of its own), `insert_one` per "
            "document (the same documents as (b)), `update_one` per status change (as many as "
            "Veche makes), a publish awaited per message. Where the style leaves room it is "
            "given the best case: no incident linking, the seed rule book held in memory, SMTP "
            "sessions reused, no SMS or webhooks. **(c′) naive, I/O only**: the same shape "
            "with no domain work at all — records forwarded unchanged (before session 11 this "
            "was the table's (c)): what the tutorial shape costs with nothing to do.",
            "- **(a′) Veche on an in-memory store**: the same services and the same drain as "
            "(a), with `VECHE_MONGO_URL` pointing at mongo-java-server's in-memory backend "
            "(`deploy/local/memstore/`, from Maven Central; it answers as MongoDB 5.0 because "
            "PyMongo refuses anything older than 4.4, and counts a rejected duplicate as "
            "inserted in `nInserted`, which Veche does not read) on the same two cores: the "
            "pipeline's limit when the store costs next to nothing. Not a store for appeals — "
            "nothing survives a restart.",
            "- **store**: `deploy/local/bench_store.py` on the same server.",
            "- **scale-out**: the same backlog twice, through one classify process and then "
            "through two in the same consumer group (6 partitions); `classified/s` is the "
            "classify stage's output rate; "
            "'classified twice' counts appeals with more than one *distinct* classified event "
            "id on `appeals.classified.v1` (a redelivery republishes the same event id, which "
            "downstream deduplicates).",
            "- **memory**: RSS of every service sampled each second (psutil) through the soak; "
            "`VECHE_BENCH_SOAK_S=600` gives the 10-minute run.",
            "- **host speed**: once a second a small process of the bench's times a fixed piece "
            "of Python work (`veche_bench.hostspeed`: a 10 000-entry dict through JSON and back) "
            "on its CPU clock; each phase gets the median of the units timed inside its window. "
            "Lower is faster; the same code's CPU an appeal moves with it.",
            "",
            "## What limits each stage",
            "",
            *limits_text(results),
            "",
            *kept_block(previous),
            "## Capacity model for Kubernetes",
            "",
            *capacity_text(results),
            "",
            "## Running it",
            "",
            "`make bench` (after `make up` has downloaded Kafka and FerretDB once). Every knob is "
            "an environment variable `VECHE_BENCH_<NAME>` or a flag `--<name>` of `veche-bench`: "
            "`HTTP_RATES`/`TOPIC_RATES` (JSON lists in the environment, comma-separated as "
            "flags), `RATE_S`, `BACKLOG`, `NAIVE_BACKLOG`, `DRAIN_S`, `DRAIN_TIMEOUT_S`, "
            "`BUDGET_S` (780: phases that no longer fit are skipped and listed), `SOAK_S` "
            "(600 for the 10-minute memory run, with a larger `BUDGET_S`), `SOAK_RATE`, "
            "`SERVICE_ENV` (extra environment of the services; by default it lifts notify's "
            "e-mail/SMS quotas, which model a provider's limit, not the pipeline's), "
            "`PORT_OFFSET` (300), `STORE_DOCS`, `STORE_OPS`, `SKIP` (any of http, topic, "
            "scaleout, soak, memstore, relay, naive, naive_io, store), `LABEL`, `WRITE_DOCS`, "
            "`KEEP_STATE` (8: folders of earlier runs kept under `.local/bench`). A faster "
            "store is measured by pointing `VECHE_MONGO_URL` at it. The last line printed is "
            "`e2e <N> appeals/s; a/b <x>; a/c <y>; p99@50 <z> ms`.",
            "",
        ]
    )
    settings.docs.parent.mkdir(parents=True, exist_ok=True)
    settings.docs.write_text(text)
    plot(results, settings.plot)
