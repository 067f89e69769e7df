"""What a service asks of its store, per command and collection: ``veche_store_commands_total``,
``veche_store_statements_total`` and ``veche_store_command_seconds``.

A stage's cost at low rates is its round trips (every batch pays its inserts, finds and
updates whatever its size), and the store's CPU is a large share of the pipeline's: these say
which commands a service sends, how many documents they carry and how long each took to come
back. Only the command's name and its collection are read — never a document, a filter or a
value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from pymongo import monitoring

# a bulk insert on an idle store answers in ~1 ms; a wedged one in seconds
COMMAND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# a write command's statements: documents inserted, updates or deletes it carries
STATEMENT_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}
# the commands whose first field names a collection; any other is counted without one
COLLECTION_COMMANDS = frozenset(
    {
        "insert",
        "update",
        "delete",
        "find",
        "findAndModify",
        "aggregate",
        "count",
        "distinct",
        "drop",
        "createIndexes",
        "listIndexes",
    }
)


def collection_of(command_name: str, command: Any) -> str:
    """The collection a command names ("" where it names none, or names it by anything but a
    string: no value ever becomes a label)."""
    if command_name in COLLECTION_COMMANDS:
        value = command.get(command_name)
    elif command_name == "getMore":
        value = command.get("collection")
    else:
        return ""
    return value if isinstance(value, str) else ""


def statements_of(command_name: str, command: Any) -> int:
    """How many documents, updates or deletes a write command carries (0 for any other); a
    bulk's statements may also come as a separate sequence, which the started event includes."""
    field = STATEMENT_FIELDS.get(command_name)
    if field is None:
        return 0
    value = command.get(field)
    return len(value) if isinstance(value, list) else 0


@dataclass(frozen=True, slots=True)
class _Series:
    """One command on one collection: its labelled children, looked up once (``labels()``
    validates and locks on every call, a cost paid per command otherwise)."""

    ok: Any
    error: Any
    seconds: Any
    statements: Any


class StoreCommandMetrics(monitoring.CommandListener):
    """PyMongo calls these from the event loop's thread, around each command's round trip; the
    series is remembered between the start and the answer by the command's request id."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._service = service
        self._series: dict[tuple[str, str], _Series] = {}
        self._pending: dict[tuple[Any, int], _Series] = {}
        self.commands = Counter(
            "veche_store_commands_total",
            "commands this service sent to the store, by command, collection and outcome",
            ["service", "command", "collection", "outcome"],
            registry=registry,
        )
        self.statements = Counter(
            "veche_store_statements_total",
            "documents inserted, updates and deletes this service's write commands carried: "
            "over veche_store_commands_total, how well it batches",
            ["service", "command", "collection"],
            registry=registry,
        )
        self.seconds = Histogram(
            "veche_store_command_seconds",
            "a store command's round trip, sent to answered (the driver's measure)",
            ["service", "command", "collection"],
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        series = self._of(name, collection_of(name, event.command))
        statements = statements_of(name, event.command)
        if statements:
            series.statements.inc(statements)
        self._pending[(event.connection_id, event.request_id)] = series

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        series = self._answered(event)
        series.ok.inc()
        series.seconds.observe(event.duration_micros / 1_000_000)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        series = self._answered(event)
        series.error.inc()
        series.seconds.observe(event.duration_micros / 1_000_000)

    def _answered(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent
    ) -> _Series:
        series = self._pending.pop((event.connection_id, event.request_id), None)
        return series or self._of(event.command_name, "")

    def _of(self, command: str, collection: str) -> _Series:
        series = self._series.get((command, collection))
        if series is None:
            labels = (self._service, command, collection)
            series = _Series(
                ok=self.commands.labels(*labels, "ok"),
                error=self.commands.labels(*labels, "error"),
                seconds=self.seconds.labels(*labels),
                statements=self.statements.labels(*labels),
            )
            self._series[(command, collection)] = series
        return series
