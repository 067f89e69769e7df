"""When a term deserves a notice (pure): due soon, overdue; and the one extension."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from veche_shared.events import DeadlineKind

from .calendar import MOSCOW, term_end


def due_soon_at(start: datetime, due_at: datetime, horizon: timedelta) -> datetime:
    """``horizon`` before the end, but never in the first half of the term: a 2-hour critical
    term is not "due soon" the moment it starts."""
    return max(due_at - horizon, start + (due_at - start) / 2)


def notice_kind(
    start: datetime, due_at: datetime, now: datetime, horizon: timedelta
) -> DeadlineKind | None:
    """The notice a term calls for now: overdue once it has ended (a term first seen after its
    end gets only that), due soon inside the horizon, else none."""
    if now >= due_at:
        return DeadlineKind.OVERDUE
    if now >= due_soon_at(start, due_at, horizon):
        return DeadlineKind.DUE_SOON
    return None


def notice_key(assignment_id: str, term: str, kind: DeadlineKind, due_at: datetime) -> str:
    """One notice per assignment, term, kind and due time: an extended term is a new due time,
    so it is watched again."""
    return f"{assignment_id}|{term}|{kind.value}|{due_at.isoformat()}"


def extended_due(due_at: datetime, days: int, max_days: int, tz: ZoneInfo = MOSCOW) -> datetime:
    """59-ФЗ ст. 12 ч. 2: once, by up to ``max_days`` calendar days from the current end."""
    if not 1 <= days <= max_days:
        raise ValueError(f"an extension is 1..{max_days} days")
    return term_end(due_at, days, tz)
