"""When a term deserves a notice (pure): due soon, overdue; and the one extension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def first_look(start: datetime, due_at: datetime) -> datetime:
    """When the watcher first looks at a term: halfway, the earliest a due-soon notice can be
    due whatever the horizon (:func:`due_soon_at`); the watcher moves the look on from there."""
    return start + (due_at - start) / 2


def next_look(
    kind: DeadlineKind | None, start: datetime, due_at: datetime, horizon: timedelta
) -> datetime | None:
    """The next look after this one: at the due-soon moment while none is due yet, at the end
    after a due-soon notice, none after the overdue one."""
    if kind is None:
        return due_soon_at(start, due_at, horizon)
    if kind is DeadlineKind.DUE_SOON:
        return due_at
    return None


def watch_key(when: datetime, assignment_id: str) -> str:
    """The watch queue's ``_id``: the look's UTC time, fixed width, so the keys sort as the
    times do and the due looks are one ``_id`` range (an index range on any MongoDB server)."""
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z|{assignment_id}"


def due_keys_until(now: datetime) -> str:
    """The greatest watch key due at ``now``: every assignment id sorts below U+FFFF."""
    return watch_key(now, "\uffff")


def look_outcome(
    look_due_at: datetime,
    start: datetime,
    due_at: datetime,
    answered: bool,
    now: datetime,
    horizon: timedelta,
) -> tuple[DeadlineKind | None, datetime | None]:
    """What a due look at a term decides: the notice to send (if any) and the next look.

    An answered appeal ends the watch. A look made for another due time than the assignment's
    (the term was extended, or the look is for an extension not stored yet or lost to a crash)
    sends nothing and watches the term the assignment has now, from its first look."""
    if answered:
        return None, None
    if look_due_at != due_at:
        return None, first_look(start, due_at)
    kind = notice_kind(start, due_at, now, horizon)
    return kind, next_look(kind, start, due_at, horizon)
