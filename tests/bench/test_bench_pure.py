"""The bench's pure parts: percentiles, open-loop schedules, rates, the summary line, parsing.

No timing here: the figures themselves come from `make bench`.
"""

import asyncio
import dataclasses
import os
import re
import time
import uuid

import pytest
from veche_bench import hostspeed, storeops
from veche_bench.appeals import received_event, submission
from veche_bench.cli import prune_state
from veche_bench.load import open_loop
from veche_bench.observe import STEAL, Sample, Sampler, Window, WindowResult, run_queue_ms
from veche_bench.report import (
    KEPT_BEGIN,
    KEPT_END,
    MEMSTORE,
    Results,
    capacity_text,
    core_ms_per_appeal,
    cost_at,
    kept_block,
    limits_text,
    measured_costs,
    rows,
    targets_text,
)
from veche_bench.runner import PhaseResult, System, SystemResult
from veche_bench.settings import load
from veche_bench.stages import STAGES, documents, outgoing, own_updates
from veche_bench.stats import (
    Latency,
    drain_rate,
    due_count,
    percentile,
    ratio,
    send_offsets,
    slope_per_minute,
    summary_line,
)
from veche_bench.store import parse_table, pick
from veche_shared.events import AppealNotifiedV1, AppealReceivedV1
from veche_shared.testing.infra import Infra

SUMMARY = re.compile(
    r"^e2e (\d+|n/a) appeals/s; a/b (\d+\.\d\d|n/a); a/c (\d+\.\d|n/a); p99@50 (\d+|n/a) ms$"
)


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_latency_summary_of_no_values_is_empty_not_zero():
    empty = Latency.of([])
    assert (empty.count, empty.p50, empty.p99, empty.max) == (0, None, None, None)
    some = Latency.of([10.0, 20.0, 30.0])
    assert (some.count, some.p50, some.max) == (3, 20.0, 30.0)


def test_open_loop_schedule_is_evenly_spaced_and_independent_of_the_server():
    offsets = send_offsets(50, 2)
    assert len(offsets) == 100
    assert offsets[0] == 0.0
    assert offsets[1] == pytest.approx(0.02)
    assert offsets[-1] == pytest.approx(1.98)
    assert send_offsets(0, 10) == []
    assert send_offsets(200, 0) == []


async def test_open_loop_starts_every_request_in_order_and_never_before_it_is_due():
    started: list[tuple[int, float, float]] = []

    async def fire(index: int, due_at: float) -> None:
        started.append((index, due_at, time.perf_counter()))

    await open_loop(200, 30, fire)
    assert [index for index, _, _ in started] == list(range(30))
    assert started[1][1] - started[0][1] == pytest.approx(0.005)
    # the generator sleeps until the next due time: waking early would send early
    assert all(at >= due_at - 0.001 for _, due_at, at in started)


def test_due_count_follows_the_clock_and_stops_at_the_total():
    assert due_count(100, -1.0, 500) == 0
    assert due_count(100, 0.0, 500) == 1  # the first request is due at once
    assert due_count(100, 0.5, 500) == 51
    assert due_count(100, 60.0, 500) == 500


def test_drain_rate_counts_from_the_start_of_the_load_to_the_last_completion():
    batches = [1.0] * 500 + [2.0] * 500 + [5.0] * 500  # three batches, each in one instant
    assert drain_rate(batches, start=0.0) == pytest.approx(300)
    assert drain_rate([1.0, 2.0], start=0.0) is None  # too few to tell
    assert drain_rate([3.0] * 50, start=3.0) is None


def test_ratio_and_slope():
    assert ratio(300, 600) == 0.5
    assert ratio(None, 10) is None
    assert ratio(10, 0) is None
    flat = [(float(t), 120.0) for t in range(60)]
    growing = [(float(t), 100.0 + t / 6) for t in range(60)]  # +10 MB a minute
    assert slope_per_minute(flat) == pytest.approx(0.0, abs=1e-9)
    assert slope_per_minute(growing) == pytest.approx(10.0)
    assert slope_per_minute([(0.0, 1.0)]) is None


def test_summary_line_has_the_documented_shape():
    line = summary_line(612.4, 0.8123, 14.27, 87.6)
    assert line == "e2e 612 appeals/s; a/b 0.81; a/c 14.3; p99@50 88 ms"
    assert SUMMARY.match(line)
    assert SUMMARY.match(summary_line(None, None, None, None))


def test_store_table_rows_are_parsed_by_column():
    output = "\n".join(
        [
            "operation                                          ops     sec     ops/s  p50 ms",
            "-" * 80,
            f"{'insert_many (500/batch, ~1KB docs)':<46} {5000:>7} {1.25:>7.2f} {4000:>9,.0f}"
            "    12.00   30.00  ok count=5000",
            f"{'update_one by _id, sequential':<46} {1000:>7} {2.00:>7.2f} {500:>9,.0f}"
            "     2.00    4.00  ok ",
            f"{'update_one by _id, 32 concurrent':<46} {2000:>7} {1.00:>7.2f} {2000:>9,.0f}"
            "     9.00   20.00  ok ",
            f"{'find_one by _id, 32 concurrent':<46} {2000:>7} {0.50:>7.2f} {4000:>9,.0f}"
            "     3.00    9.00  FAIL not found",
        ]
    )
    rows = parse_table(output)
    assert [r.operation for r in rows][:2] == [
        "insert_many (500/batch, ~1KB docs)",
        "update_one by _id, sequential",
    ]
    assert pick(rows, "insert_many (500/batch") == 4000
    assert pick(rows, "update_one by _id", "concurrent") == 2000
    assert pick(rows, "find_one by _id", "concurrent") is None  # a failed row is no figure


def test_settings_take_lists_from_flags():
    settings = load(["--http-rates", "50,200", "--skip", "naive,store", "--rate-s", "5"])
    assert settings.http_rates == [50.0, 200.0]
    assert settings.skip == ["naive", "store"]
    assert settings.rate_s == 5.0


def test_generated_appeals_are_valid_contracts_and_submissions():
    event = received_event(7, "run1")
    assert AppealReceivedV1.from_bytes(event.to_bytes()) == event
    assert received_event(7, "run1").appeal_id == event.appeal_id  # stable per run and index
    assert received_event(7, "run2").appeal_id != event.appeal_id
    body = submission(7)
    assert body["contact"]["email"].endswith("@example.org")  # never a real address


def test_relay_stages_forward_records_and_end_with_a_notified_event():
    key = str(uuid.uuid4())
    value = received_event(1, "r").to_bytes()
    assert outgoing(STAGES["classify"], key, value) == value
    notified = AppealNotifiedV1.from_bytes(outgoing(STAGES["notify"], key, value))
    assert str(notified.appeal_id) == key
    docs = documents(STAGES["notify"], key, value, 3, "t")
    assert len({d["_id"] for d in docs}) == 3
    summary = documents(STAGES["classify"], key, value, 2, "t")
    assert summary[0]["_id"] == key  # the timeline stage updates this one
    timeline = documents(STAGES["timeline"], key, value, 5, "ns.appeals.routed.v1")
    assert len(timeline) == 1


def test_baseline_updates_change_the_stages_own_documents_each_time():
    key = str(uuid.uuid4())
    stored = {d["_id"] for d in documents(STAGES["notify"], key, b"{}", 3, "t")}
    changes = own_updates(STAGES["notify"], key, 3, 7)
    assert len(changes) == 7
    assert {query["_id"] for query, _ in changes} == stored
    assert len({update["$set"]["state"] for _, update in changes}) == 7  # never a no-op change
    assert own_updates(STAGES["route"], key, 2, 0) == []


def test_rate_phases_go_slowest_first_http_before_topic():
    from veche_bench.cli import rate_phases

    settings = load(["--http-rates", "500,50", "--topic-rates", "50,200"])
    assert rate_phases(settings) == [
        ("http", 50.0),
        ("topic", 50.0),
        ("topic", 200.0),
        ("http", 500.0),
    ]
    assert rate_phases(load(["--http-rates", "50", "--skip", "http"])) == [
        ("topic", 10.0),
        ("topic", 25.0),
        ("topic", 50.0),
        ("topic", 200.0),
        ("topic", 500.0),
    ]


def test_the_hand_written_block_survives_regeneration_markers_and_all():
    previous = f"# Performance\n\ntable\n\n{KEPT_BEGIN}\n## Soaks\n\n| a |\n{KEPT_END}\n\n## Next\n"
    assert kept_block(previous) == [KEPT_BEGIN, "## Soaks", "", "| a |", KEPT_END, ""]
    # an unterminated block runs to the end and is closed; no block, nothing kept
    assert kept_block(f"x\n{KEPT_BEGIN}\nsoak\n") == [KEPT_BEGIN, "soak", KEPT_END, ""]
    assert kept_block("# Performance\n") == []
    assert kept_block(None) == []


def _drained(appeals: int, rate: float) -> WindowResult:
    """A saturation window: every appeal notified, at ``rate`` appeals/s."""
    return WindowResult(
        registered=appeals,
        notified=appeals,
        latency_ms=Latency.of([]),
        censored=0,
        notified_rate=rate,
        classified_rate=None,
        classified_p50_ms=None,
        classified_duplicates=0,
        classified_redeliveries=0,
        notified_duplicates=0,
    )


def test_core_ms_per_appeal_counts_the_system_not_the_load_or_the_host():
    window = _drained(1000, 100.0)
    usage = {
        "notify": (40.0, 1.0),
        "ferretdb": (30.0, 1.0),
        "load": (90.0, 1.0),
        STEAL: (50.0, 0.0),
    }
    phase = PhaseResult("sat", None, {}, window, usage, 10.0)

    assert core_ms_per_appeal(phase) == pytest.approx(7.0)  # 70 % of a core for 100 appeals/s
    assert core_ms_per_appeal(None) is None


def test_a_process_that_lived_through_part_of_a_window_counts_as_idle_for_the_rest():
    sampler = Sampler()
    for tick in range(10):  # ten one-second ticks; the host's steal is sampled at every one
        sampler.samples[STEAL].append(Sample(100.0 + tick, 0.0, 0.0))
        sampler.samples["notify"].append(Sample(100.0 + tick, 40.0, 130.0 + tick))
    sampler.samples["load"] = [Sample(100.0, 100.0, 50.0), Sample(101.0, 80.0, 60.0)]

    usage = sampler.usage(Window(99.5, 109.5))

    assert usage["notify"] == (pytest.approx(40.0), 139.0)
    assert usage["load"] == (pytest.approx(18.0), 60.0)  # 180 %-seconds over ten seconds
    assert sampler.usage(Window(200.0, 210.0)) == {}


def _saturation(usage: dict[str, tuple[float, float]]) -> Results:
    window = _drained(3000, 200.0)
    veche = SystemResult("veche", {"saturation": PhaseResult("sat", None, {}, window, usage, 15)})
    return Results(settings=load([]), veche=veche)


def test_the_limits_name_what_a_stage_waits_on_and_an_idle_machine():
    usage = {
        "classify": (20.0, 400.0),
        "notify": (45.0, 130.0),
        "mail-sink": (25.0, 50.0),
        "ferretdb": (30.0, 150.0),
        "load": (5.0, 60.0),
        STEAL: (0.0, 0.0),
    }
    text = "\n".join(limits_text(_saturation(usage)))

    assert (
        "**classify**: 20% of one core, 400 MB resident — not CPU-bound — it waits on the "
        "store and the broker" in text
    )
    assert (
        "**notify**: 45% of one core, 130 MB resident — not CPU-bound — it waits on the "
        "store, the broker and the SMTP relay" in text
    )
    assert "used 125% of the 200%" in text
    assert "75% of the machine stayed idle" in text  # a chain of waits, not the cores, bounds it


def test_a_full_machine_is_not_called_idle_and_a_saturated_loop_is_called_cpu_bound():
    usage = {"notify": (95.0, 130.0), "ferretdb": (80.0, 150.0), STEAL: (10.0, 0.0)}
    text = "\n".join(limits_text(_saturation(usage)))

    assert "**notify**: 95% of one core, 130 MB resident — CPU-bound" in text
    assert "stayed idle" not in text


def test_prune_state_keeps_the_newest_run_folders(tmp_path):
    for age, name in enumerate(["oldest", "older", "newer", "newest"]):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "spans.jsonl").write_text("{}")
        stamp = 1_700_000_000 + age * 60
        os.utime(folder, (stamp, stamp))
    (tmp_path / "notes.txt").write_text("not a run")

    deleted = prune_state(tmp_path, keep=2)

    assert sorted(p.name for p in deleted) == ["older", "oldest"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer", "newest", "notes.txt"]
    assert prune_state(tmp_path / "absent", keep=2) == []


def test_waiting_for_a_core_is_averaged_over_the_window_like_the_cpu():
    sampler = Sampler()
    for tick in range(10):
        sampler.samples[STEAL].append(Sample(100.0 + tick, 0.0, 0.0))
        sampler.samples["notify"].append(Sample(100.0 + tick, 40.0, 130.0, 30.0 + tick))
    sampler.samples["load"] = [Sample(100.0, 100.0, 50.0, 50.0)]

    waiting = sampler.waiting(Window(99.5, 109.5))

    assert waiting["notify"] == pytest.approx(34.5)
    assert waiting["load"] == pytest.approx(5.0)  # one tick of ten
    assert STEAL not in waiting


def test_the_run_queue_of_a_live_process_is_read_and_of_a_gone_one_is_unknown():
    waited = run_queue_ms(os.getpid())

    assert waited is not None
    assert waited >= 0
    assert run_queue_ms(2**22 + 12345) is None  # above the kernel's largest pid


def test_a_stage_that_queued_for_cpu_is_called_short_of_cpu_not_waiting_on_io():
    usage = {"notify": (45.0, 130.0), "classify": (20.0, 400.0), STEAL: (0.0, 0.0)}
    results = _saturation(usage)
    phase = results.phase(results.veche, "saturation")
    assert phase is not None
    phase.waiting = {"notify": 48.0, "classify": 10.0, "load": 90.0}

    text = "\n".join(limits_text(results))
    cell = dict((r[0], r[1]) for r in rows(results))[
        "at saturation: waiting for a core (% of the drain, threads summed)"
    ]

    assert "**notify**: 45% of one core (waiting for a core 48% of the time)" in text
    assert "short of CPU" in text.split("**notify**")[1].split("\n")[0]
    assert "not CPU-bound — it waits on" in text.split("**classify**")[1].split("\n")[0]
    assert cell == "notify 48 · classify 10"  # the load generator is not the system's


def test_the_memory_store_run_says_how_much_of_the_limit_the_store_is():
    results = _saturation(
        {"notify": (40.0, 130.0), "classify": (20.0, 400.0), "ferretdb": (40.0, 150.0)}
    )
    on_memory = {
        "notify": (50.0, 130.0),
        "classify": (25.0, 400.0),
        "ferretdb": (0.0, 150.0),
        MEMSTORE: (15.0, 300.0),
    }
    window = _drained(3000, 250.0)
    phase = PhaseResult("sat", None, {}, window, on_memory, 12)
    results.memstore = SystemResult("veche", {"saturation": phase})

    text = "\n".join(limits_text(results))

    # 250/s against 200/s; 90 % of a core over 250/s = 3.6 core-ms, the store 0.6 of them
    assert "drains 250 appeals/s, ×1.25 its rate on FerretDB, at 3.6 core-ms" in text
    assert "the store 0.6 of them against FerretDB's 2.0" in text
    # the services alone: 75 % of a core over 250/s = 3.0 core-ms → 2000/3.0
    assert "the four services 3.0 core-ms an appeal" in text
    assert "at most 667 appeals/s" in text
    row = dict((measure, a) for measure, a, *_ in rows(results))
    assert row[next(m for m in row if m.startswith("(a′)"))] == "250 · 3.6 (0.6)"


def test_without_a_memory_store_run_nothing_is_said_about_it():
    results = _saturation({"notify": (40.0, 130.0), "ferretdb": (40.0, 150.0)})

    assert "in-memory" not in "\n".join(limits_text(results))
    row = dict((measure, a) for measure, a, *_ in rows(results))
    assert row[next(m for m in row if m.startswith("(a′)"))] == "–"


def _system(rate: float, **latencies: list[float]) -> SystemResult:
    """A system with a saturation drain at ``rate`` and, per phase key, its latencies."""
    phases = {"saturation": PhaseResult("sat", None, {}, _drained(3000, rate), {}, 15)}
    for key, values in latencies.items():
        window = dataclasses.replace(_drained(750, 50.0), latency_ms=Latency.of(values))
        phases[key.replace("_", "-")] = PhaseResult(key, 50.0, {}, window, {}, 15)
    return SystemResult("system", phases)


def test_the_targets_are_read_off_the_run_one_row_each():
    results = Results(
        settings=load([]),
        veche=_system(270.0, http_50=[100.0] * 98 + [465.0] * 2, topic_50=[90.0] * 100),
        relay=_system(821.0),
        naive=_system(53.0),
        memstore=_system(379.0),
    )
    assert results.veche is not None
    results.veche.rss = {
        "notify": [(float(t), 120.0) for t in range(90)],  # flat
        "ingest": [(float(t), 100.0 + t / 30) for t in range(90)],  # +2 MB/min: growing
        "route": [(float(t), 150.0 - t / 20) for t in range(90)],  # −3 MB/min: given back
    }

    rows = {line.split(" | ")[0].lstrip("| "): line for line in targets_text(results)}

    assert rows["a ≥ 0.5 · b"].endswith("| a/b 0.33 | **not met** |")
    assert rows["a ≥ 5 · c"].endswith("| a/c 5.09 | met |")
    assert "270/s on FerretDB; 379/s on the in-memory store" in rows["≥ 560 appeals/s end to end"]
    assert rows["≥ 560 appeals/s end to end"].endswith("**not met** |")
    assert "http 465 ms · topic 90 ms" in rows["p99 ≤ 300 ms at 50 appeals/s"]
    assert rows["p99 ≤ 300 ms at 50 appeals/s"].endswith("**not met** |")
    assert "ingest 2.0" in rows["memory per service flat"]
    assert rows["memory per service flat"].endswith("**not met** |")
    results.veche.rss.pop("ingest")  # what is left: flat and falling
    flat = [line for line in targets_text(results) if line.startswith("| memory")]
    assert flat[0].endswith("| met |")


def test_targets_without_their_phases_are_not_judged():
    results = Results(settings=load([]), veche=_system(600.0))

    rows = {line.split(" | ")[0].lstrip("| "): line for line in targets_text(results)}

    assert rows["≥ 560 appeals/s end to end"].endswith("| met |")
    assert rows["a ≥ 0.5 · b"].endswith("| – |")  # no (b) in this run
    assert rows["p99 ≤ 300 ms at 50 appeals/s"].endswith("| – |")
    assert rows["memory per service flat"].endswith("| – |")


class _Draining:
    """A collector whose earlier appeals finish one per look."""

    def __init__(self, behind: int) -> None:
        self.behind = behind

    def unfinished(self) -> int:
        self.behind = max(0, self.behind - 1)
        return self.behind


async def test_a_scale_out_phase_waits_for_the_earlier_phase_to_leave_the_pipeline():
    system = System(load([]), Infra("127.0.0.1:1", "mongodb://127.0.0.1:1/"), lambda *_: None)
    system.collector = _Draining(3)  # type: ignore[assignment]  # two looks, one wait

    await system.settle("phase", timeout=30)

    assert system.collector.unfinished() == 0


async def test_settling_gives_up_at_its_timeout():
    system = System(load([]), Infra("127.0.0.1:1", "mongodb://127.0.0.1:1/"), lambda *_: None)
    system.collector = _Draining(10**9)  # type: ignore[assignment]

    await asyncio.wait_for(system.settle("phase", timeout=0.2), 2)

    assert system.collector.unfinished() > 0


def _loaded(rate: float, done: float, usage: dict[str, tuple[float, float]]) -> PhaseResult:
    """An offered-rate phase (``rate`` None: the saturation drain) with its CPU usage."""
    return PhaseResult("phase", rate, {}, _drained(750, done), usage, 15)


def _costly_run() -> Results:
    """Per appeal, dearer at low rates: 10/s costs classify 10 ms, saturation 0.5 ms."""
    veche = SystemResult(
        "veche",
        {
            "saturation": _loaded(None, 300.0, {"classify": (15.0, 400.0), "route": (9.0, 1)}),
            "topic-10": _loaded(10.0, 10.0, {"classify": (10.0, 400.0), "route": (6.0, 1)}),
            "topic-50": _loaded(50.0, 50.0, {"classify": (40.0, 400.0), "route": (20.0, 1)}),
            "http-50": _loaded(50.0, 50.0, {"classify": (35.0, 400.0), "route": (25.0, 1)}),
        },
    )
    return Results(settings=load([]), veche=veche)


def test_every_offered_rate_row_says_what_an_appeal_cost_at_that_rate():
    run = _costly_run()
    assert run.veche is not None
    run.veche.phases["topic-10"].store = {"commands": 4.25, "ingest.updated": 1.0}
    table = dict((measure, a) for measure, a, *_ in rows(run))

    cost = "p50/p95/p99 ms · done/s · core-ms · store commands an appeal"
    assert table[f"Veche topic 10/s: {cost}"].endswith(
        "· 10 · 16.0 · 4.25"  # (10 + 6) % of a core for 10 appeals/s
    )
    assert table[f"Veche HTTP 50/s: {cost}"].endswith("· 50 · 12.0 · –")  # no counters read


def test_costs_by_rate_take_the_dearer_path_and_the_saturation_drain():
    costs = measured_costs(_costly_run())

    assert [c.rate for c in costs] == [10.0, 50.0, 300.0]
    assert costs[1].services == {"classify": pytest.approx(8.0), "route": pytest.approx(5.0)}
    assert costs[2].services == {"classify": pytest.approx(0.5), "route": pytest.approx(0.3)}


def test_the_cost_at_a_rate_is_that_of_the_highest_measured_rate_not_above_it():
    costs = measured_costs(_costly_run())

    assert cost_at(costs, 0.3) is costs[0]  # below every measured rate: batches of one
    assert cost_at(costs, 49.0) is costs[0]
    assert cost_at(costs, 63.0) is costs[1]
    assert cost_at(costs, 5000.0) is costs[2]
    assert cost_at([], 10.0) is None


def test_the_capacity_model_sizes_each_volume_with_the_cost_at_its_peak():
    lines = capacity_text(_costly_run())
    by_volume = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("|")}

    # 100 M a year peaks at ~63/s: read at 50/s (13 core-ms), not at saturation (0.8)
    assert "| 13.0 (50/s) | 0.82 |" in by_volume["100,000,000"]  # 63.4/s × 13 core-ms
    # 1 M a year peaks below 1/s: the slowest measured rate's cost (16 core-ms)
    assert "| 16.0 (10/s) |" in by_volume["1,000,000"]
    assert any("×20.0" in line for line in lines)  # 10/s costs 20x the saturation drain


EXPOSITION = """# HELP veche_store_commands_total commands
# TYPE veche_store_commands_total counter
veche_store_commands_total{service="ingest",command="update",collection="appeals",outcome="ok"} 10.0
veche_store_commands_total{service="ingest",command="find",collection="appeals",outcome="ok"} 4.0
veche_store_commands_total{service="ingest",command="insert",collection="timeline",outcome="ok"} 2.0
# HELP veche_store_statements_total statements
# TYPE veche_store_statements_total counter
veche_store_statements_total{service="ingest",command="update",collection="appeals"} 150.0
veche_store_statements_total{service="ingest",command="insert",collection="timeline"} 300.0
"""


def test_store_work_is_read_from_a_services_counters_and_differenced_per_appeal():
    before = storeops.parse("ingest", EXPOSITION)
    assert before == {
        "commands": 16.0,
        "finds": 4.0,
        "ingest.updated": 150.0,
        "ingest.inserted": 300.0,
    }
    later = EXPOSITION.replace("} 150.0", "} 450.0").replace("} 10.0", "} 30.0")

    ops = storeops.per_appeal(before, storeops.parse("ingest", later), appeals=100)

    assert ops == {"commands": 0.2, "ingest.updated": 3.0}  # what did not grow is left out
    assert storeops.total_of(ops, "updated") == 3.0
    assert storeops.by_service({**ops, "classify.updated": 0.05}, "updated") == [
        ("ingest", 3.0),
        ("classify", 0.05),
    ]
    assert storeops.per_appeal(before, before, appeals=0) == {}


def test_the_table_and_the_verdict_show_the_store_work_measured_in_the_drain():
    usage = {"ferretdb": (60.0, 150.0), "notify": (40.0, 130.0), STEAL: (0.0, 0.0)}
    results = _saturation(usage)
    assert results.veche is not None
    results.veche.phases["saturation"].store = {
        "commands": 0.35,
        "finds": 0.02,
        "ingest.updated": 2.9,
        "classify.updated": 0.06,
        "notify.inserted": 7.5,
    }
    results.updates = {"classify": 1}
    table = {row[0]: row[1] for row in rows(results)}

    assert table["documents updated per appeal"] == "3.0 in the drain (≤ 4)"
    store_row = "at saturation: store commands · documents inserted · updated · finds, an appeal"
    assert table[store_row] == "0.35 · 7.5 · 3.0 · 0.02"
    verdict = "\n".join(limits_text(results))
    assert "updated 3.0 documents per appeal in the drain (ingest 2.90, classify 0.06" in verdict


def test_the_host_speed_is_the_median_of_the_units_timed_whatever_one_outlier():
    speed = hostspeed.summarise([12.0, 11.0, 70.0, 11.5, 11.2, 11.1, 11.3, 11.4, 11.6, 11.7])

    assert speed.median_ms == pytest.approx(11.45)
    assert speed.units == 10
    with pytest.raises(ValueError, match="no unit"):
        hostspeed.summarise([])


def test_a_unit_of_the_fixed_work_takes_measurable_cpu_time():
    assert hostspeed.timed_unit(2_000) > 0.0


def test_the_sampler_gives_each_window_the_host_speed_timed_inside_it():
    sampler = Sampler()
    sampler.host = [(100.0 + tick, 10.0 + tick) for tick in range(10)]

    inside = sampler.host_speed(Window(103.5, 106.5))  # ticks 104, 105, 106

    assert inside is not None
    assert (inside.median_ms, inside.units) == (15.0, 3)
    assert sampler.host_speed(Window(200.0, 210.0)) is None


def test_the_limits_say_how_fast_each_systems_host_was_and_compare_it_with_veches():
    results = _saturation({"notify": (40.0, 130.0), "ferretdb": (40.0, 150.0)})
    assert results.veche is not None
    veche_phase = results.veche.phases["saturation"]
    veche_phase.host = hostspeed.HostSpeed(15.0, 30)
    relay = PhaseResult("sat", None, {}, _drained(3000, 600.0), {}, 10)
    relay.host = hostspeed.HostSpeed(12.0, 10)
    naive = PhaseResult("sat", None, {}, _drained(800, 40.0), {}, 20)
    naive.host = hostspeed.HostSpeed(15.3, 20)
    results.relay = SystemResult("relay", {"saturation": relay})
    results.naive = SystemResult("naive", {"saturation": naive})

    text = "\n".join(limits_text(results))

    assert "15.0 ms through (a)'s, 12.0 ms through (b)'s, 15.3 ms through (c)'s drain" in text
    assert "(b)'s host was 25% faster than (a)'s" in text  # 15 / 12
    assert "(c)'s host was as fast as (a)'s (within 5 %)" in text
    assert "its median went from 12.0 to 15.3 ms" in text
    row = dict((measure, (a, b, c)) for measure, a, b, c, _ in rows(results))
    speed_row = next(m for m in row if "host speed" in m)
    assert row[speed_row] == ("15.0", "12.0", "15.3")


def test_without_host_samples_the_limits_say_nothing_of_the_host():
    results = _saturation({"notify": (40.0, 130.0)})

    assert "host's speed" not in "\n".join(limits_text(results))


def test_the_probes_lines_are_read_and_anything_else_is_skipped():
    assert hostspeed.parse_line("1765150000.125 5.250\n") == (1765150000.125, 5.25)
    assert hostspeed.parse_line("Traceback (most recent call last):") is None
    assert hostspeed.parse_line("") is None


async def test_the_sampler_reads_the_host_speed_from_a_probe_process_and_stops_it():
    sampler = Sampler(interval=0.1)
    await sampler.start()
    try:
        await asyncio.sleep(1.5)  # the probe starts in ~0.1 s, then prints every 0.1 s
        probe = sampler._probe
    finally:
        await sampler.stop()

    assert len(sampler.host) >= 3
    assert all(ms > 0 for _, ms in sampler.host)
    assert probe is not None
    assert probe.returncode is not None  # stopped with the sampler


def test_the_targets_say_how_fast_the_host_was_where_they_were_read():
    veche = _system(250.0, http_50=[100.0, 200.0], topic_50=[90.0])
    relay = _system(600.0)
    veche.phases["saturation"].host = hostspeed.HostSpeed(6.0, 25)
    veche.phases["http-50"].host = hostspeed.HostSpeed(7.5, 15)
    relay.phases["saturation"].host = hostspeed.HostSpeed(5.4, 9)
    results = Results(settings=load([]), veche=veche, relay=relay)

    text = "\n".join(targets_text(results))

    assert "lower is faster): (a) 6.0 · (b) 5.4 · HTTP 50/s 7.5." in text
    assert "host's speed" not in "\n".join(targets_text(Results(settings=load([]))))
