"""Every Kafka topic of the pipeline, in one place.

Names follow ``appeals.<event>.v<N>``; each has a dead-letter twin ``<name>.dlq``. A namespace
(``VECHE_NAMESPACE``) prefixes every name so test runs and tenants can share one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import (
    AppealAnsweredV1,
    AppealClassifiedV1,
    AppealDeadlineV1,
    AppealNotifiedV1,
    AppealReceivedV1,
    AppealRoutedV1,
    Event,
)

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    event: type[Event] | None
    partitions: int
    retention_ms: int
    description: str
    cleanup_policy: str = "delete"

    @property
    def dlq(self) -> Topic:
        return Topic(
            name=f"{self.name}.dlq",
            event=None,
            partitions=1,
            retention_ms=30 * DAY_MS,  # long enough for an operator to look after a holiday
            description=f"dead letters of {self.name}, the reason in headers",
        )

    def qualified(self, namespace: str = "") -> str:
        return f"{namespace}.{self.name}" if namespace else self.name


APPEALS_RECEIVED = Topic(
    "appeals.received.v1", AppealReceivedV1, 6, 14 * DAY_MS, "appeals registered by ingest"
)
APPEALS_CLASSIFIED = Topic(
    "appeals.classified.v1", AppealClassifiedV1, 6, 14 * DAY_MS, "topic and urgency decided"
)
APPEALS_ROUTED = Topic(
    "appeals.routed.v1", AppealRoutedV1, 6, 14 * DAY_MS, "executor and deadlines decided"
)
APPEALS_DEADLINE = Topic(
    "appeals.deadline.v1", AppealDeadlineV1, 6, 14 * DAY_MS, "statutory terms due soon or overdue"
)
APPEALS_NOTIFIED = Topic(
    "appeals.notified.v1", AppealNotifiedV1, 6, 14 * DAY_MS, "notifications recorded or sent"
)
APPEALS_ANSWERED = Topic(
    "appeals.answered.v1", AppealAnsweredV1, 6, 14 * DAY_MS, "the answer sent: appeal closed"
)

PIPELINE: tuple[Topic, ...] = (
    APPEALS_RECEIVED,
    APPEALS_CLASSIFIED,
    APPEALS_ROUTED,
    APPEALS_DEADLINE,
    APPEALS_NOTIFIED,
    APPEALS_ANSWERED,
)


def all_topics() -> tuple[Topic, ...]:
    """Every topic the project owns, dead-letter topics included."""
    return tuple(t for topic in PIPELINE for t in (topic, topic.dlq))
