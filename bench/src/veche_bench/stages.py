"""What the raw relay (b) and the naive baseline (c) do per appeal: Veche's topology, no domain.

Four consumers, like the four services: three hops received -> classified -> routed -> notified,
each storing ``inserts`` documents per appeal and changing ``updates`` of them (the numbers
measured on Veche's own databases after its run: classify rewrites an incident place per appeal,
notify moves each notification to ``sending`` and then to its final state), and a timeline
consumer on the three outputs that stores one entry per event and updates one status summary per
appeal in each batch, as ingest does. Records are forwarded unchanged (same size); the
last hop emits a minimal ``appeals.notified.v1`` body with its own ``occurred_at``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from veche_shared.topics import (
    APPEALS_CLASSIFIED,
    APPEALS_NOTIFIED,
    APPEALS_RECEIVED,
    APPEALS_ROUTED,
    Topic,
)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    inputs: tuple[Topic, ...]
    output: Topic | None
    updates_per_record: int = 0


STAGES: dict[str, Stage] = {
    "classify": Stage("classify", (APPEALS_RECEIVED,), APPEALS_CLASSIFIED),
    "route": Stage("route", (APPEALS_CLASSIFIED,), APPEALS_ROUTED),
    "notify": Stage("notify", (APPEALS_ROUTED,), APPEALS_NOTIFIED),
    "timeline": Stage("timeline", (APPEALS_CLASSIFIED, APPEALS_ROUTED, APPEALS_NOTIFIED), None, 1),
}

SUMMARY_COLLECTION = "classify"  # the hop-1 document keyed by the appeal id is the "summary"


def database(namespace: str, kind: str) -> str:
    return f"{namespace}_veche_{kind}"


def documents(
    stage: Stage, key: str, value: bytes, inserts: int, topic: str
) -> list[dict[str, Any]]:
    """The documents one record costs: keyed by natural ids, roughly as big as the event."""
    now = datetime.now(UTC)
    body = value.decode(errors="replace")
    if stage.name == "timeline":
        return [{"_id": f"{key}:{topic}", "appeal_id": key, "at": now, "stage": topic}]
    return [
        {"_id": document_id(stage, key, index), "appeal_id": key, "at": now, "event": body}
        for index in range(inserts)
    ]


def document_id(stage: Stage, key: str, index: int) -> str:
    if index == 0 and stage.name == SUMMARY_COLLECTION:
        return key
    return f"{key}:{index}"


def own_updates(
    stage: Stage, key: str, inserts: int, updates: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The state changes one record costs on the stage's own documents, by ``_id``."""
    now = datetime.now(UTC)
    return [
        (
            {"_id": document_id(stage, key, index % max(inserts, 1))},
            {"$set": {"state": index, "changed_at": now}},
        )
        for index in range(updates)
    ]


def summary_update(key: str, topic: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"_id": key}, {"$max": {"updated_at": datetime.now(UTC)}, "$set": {"last": topic}}


def outgoing(stage: Stage, key: str, value: bytes) -> bytes:
    """The record the stage publishes: the input unchanged, or a notified event at the end."""
    if stage.output is not APPEALS_NOTIFIED:
        return value
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "appeal_id": key,
            "occurred_at": datetime.now(UTC).isoformat(),
            "registration_number": "71-2000-000000",
            "notifications": [],
        }
    ).encode()
