"""An appeal's lifecycle as seen by ingest: one timeline entry per pipeline event.

Entries are inserted, never updated (keyed by the event id, so a redelivered event is a no-op);
the status is derived from the entries, so it cannot disagree with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from veche_shared.events import (
    AppealAnsweredV1,
    AppealClassifiedV1,
    AppealNotifiedV1,
    AppealReceivedV1,
    AppealRoutedV1,
    Event,
)


class Stage(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    ROUTED = "routed"
    NOTIFIED = "notified"
    ANSWERED = "answered"  # closed: the body's answer was sent to the citizen


STAGE_ORDER = {stage: position for position, stage in enumerate(Stage)}
_STAGE_VALUES = frozenset(stage.value for stage in Stage)


def timeline_entry(event: Event) -> dict[str, Any]:
    """What the timeline keeps of an event: stage, time and a summary without personal data."""
    stage, summary = _summarise(event)
    return {
        "_id": str(event.event_id),
        "appeal_id": str(event.appeal_id),
        "stage": stage.value,
        "at": event.occurred_at,
        "summary": summary,
    }


def _summarise(event: Event) -> tuple[Stage, dict[str, Any]]:
    match event:
        case AppealReceivedV1():
            return Stage.RECEIVED, {
                "registration_number": event.appeal.registration_number,
                "channel": event.appeal.channel.value,
                "flags": list(event.appeal.flags),
            }
        case AppealClassifiedV1():
            c = event.classification
            return Stage.CLASSIFIED, {
                "topic": c.topic,
                "confidence": round(c.confidence, 3),
                "urgency": c.urgency.value,
                "classifier": c.classifier,
            }
        case AppealRoutedV1():
            return Stage.ROUTED, {
                "executor": event.executor.organisation,
                "department": event.executor.department,
                "territory": event.territory.name,
                "territory_code": event.territory.code,
                "redirected": event.redirected,
                "answer_by": event.deadlines.answer_by.isoformat(),
                "deadlines": event.deadlines.model_dump(mode="json", exclude_none=True),
                "redirect_notice_by": (
                    event.redirect_notice_by.isoformat() if event.redirect_notice_by else None
                ),
                "assignments": [
                    {
                        "role": a.role.value,
                        "executor": a.executor.organisation,
                        "department": a.executor.department,
                        "answer_by": a.answer_by.isoformat(),
                    }
                    for a in event.assignments
                ],
                "flags": list(event.flags),
            }
        case AppealNotifiedV1():
            return Stage.NOTIFIED, {
                "notifications": [
                    {
                        "kind": n.kind,
                        "recipient": n.recipient_role.value,
                        "channel": n.channel,
                        "status": n.status.value,
                    }
                    for n in event.notifications
                ]
            }
        case AppealAnsweredV1():
            return Stage.ANSWERED, {
                "executor": event.executor.organisation,
                "outcome": event.outcome.value,
                "answered_at": event.answered_at.isoformat(),
            }
    raise TypeError(f"no timeline stage for {type(event).__name__}")


def current_status(stages: list[str]) -> Stage:
    """The furthest stage reached (events of one appeal may arrive out of order across topics)."""
    known = [Stage(s) for s in stages if s in _STAGE_VALUES]
    if not known:
        return Stage.RECEIVED
    return max(known, key=STAGE_ORDER.__getitem__)


@dataclass(slots=True)
class StatusChange:
    """What an appeal's status summary (for lists and Open311) takes from its new entries."""

    appeal_id: str
    stage_rank: int
    updated_at: datetime
    fields: dict[str, Any] = field(default_factory=dict)


def status_changes(entries: Iterable[dict[str, Any]]) -> list[StatusChange]:
    """One change per appeal for a batch of timeline entries: the furthest stage, the latest
    time, and each stage's fields from its latest entry — a store update is the dear part, so
    an appeal's events that arrive together are written once."""
    changes: dict[str, StatusChange] = {}
    for entry in sorted(entries, key=lambda e: e["at"]):  # a later entry's fields win
        if entry["stage"] not in _STAGE_VALUES:  # written by a newer version: not ours to fold
            continue
        appeal_id = entry["appeal_id"]
        rank = STAGE_ORDER[Stage(entry["stage"])]
        change = changes.get(appeal_id)
        if change is None:
            change = changes[appeal_id] = StatusChange(appeal_id, rank, entry["at"])
        change.stage_rank = max(change.stage_rank, rank)
        change.updated_at = max(change.updated_at, entry["at"])
        for name, value in _status_fields(entry).items():
            change.fields[name] = value
    return list(changes.values())


def _status_fields(entry: dict[str, Any]) -> dict[str, Any]:
    summary = entry["summary"]
    if entry["stage"] == Stage.CLASSIFIED:
        return {"topic": summary["topic"], "urgency": summary["urgency"]}
    if entry["stage"] == Stage.ROUTED:
        return {
            "territory": summary.get("territory_code"),
            "executor": summary["executor"],
            "answer_by": summary["answer_by"],
        }
    return {}
