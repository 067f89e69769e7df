from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from veche_route.domain.deadlines import (
    due_keys_until,
    due_soon_at,
    extended_due,
    first_look,
    look_outcome,
    next_look,
    notice_key,
    notice_kind,
    watch_key,
)
from veche_shared.events import DeadlineKind

START = datetime(2026, 11, 2, 9, tzinfo=UTC)
DUE = START + timedelta(days=30)
HORIZON = timedelta(days=3)


@pytest.mark.parametrize(
    ("now", "kind"),
    [
        (START + timedelta(days=1), None),
        (DUE - timedelta(days=3, seconds=1), None),
        (DUE - timedelta(days=3), DeadlineKind.DUE_SOON),
        (DUE - timedelta(seconds=1), DeadlineKind.DUE_SOON),
        (DUE, DeadlineKind.OVERDUE),
        (DUE + timedelta(days=10), DeadlineKind.OVERDUE),
    ],
)
def test_notice_kind_by_time(now, kind):
    assert notice_kind(START, DUE, now, HORIZON) is kind


def test_a_short_term_is_not_due_soon_in_its_first_half():
    due = START + timedelta(hours=2)
    assert due_soon_at(START, due, HORIZON) == START + timedelta(hours=1)
    assert notice_kind(START, due, START + timedelta(minutes=30), HORIZON) is None


def test_an_extended_term_gets_its_own_notice_keys():
    later = DUE + timedelta(days=30)
    assert notice_key("a:1", "answer", DeadlineKind.OVERDUE, DUE) != notice_key(
        "a:1", "answer", DeadlineKind.OVERDUE, later
    )


def test_extension_is_up_to_30_calendar_days_ending_on_a_working_day():
    due = datetime(2025, 12, 9, 20, 59, 59, tzinfo=UTC)  # 23:59:59 Moscow, 9 December
    assert extended_due(due, 30, 30).date() == date(2026, 1, 12)  # 8 January is a holiday
    with pytest.raises(ValueError, match=r"1\.\.30 days"):
        extended_due(due, 31, 30)


def test_watch_keys_sort_as_their_times_and_the_due_range_holds_exactly_the_due_ones():
    moscow = timezone(timedelta(hours=3))
    times = [
        START + timedelta(microseconds=1),
        START + timedelta(hours=1),
        (START + timedelta(days=2)).astimezone(moscow),  # any time zone: keys are UTC
        START + timedelta(days=400),
    ]
    keys = [watch_key(t, "appeal:body-z") for t in times]
    assert sorted(keys) == keys
    assert watch_key(START, "a") < watch_key(START, "b") < due_keys_until(START)
    assert watch_key(START + timedelta(microseconds=1), "a") > due_keys_until(START)


def test_a_term_is_looked_at_halfway_then_when_due_soon_then_at_its_end():
    assert first_look(START, DUE) == START + timedelta(days=15)
    assert next_look(None, START, DUE, HORIZON) == DUE - HORIZON
    assert next_look(DeadlineKind.DUE_SOON, START, DUE, HORIZON) == DUE
    assert next_look(DeadlineKind.OVERDUE, START, DUE, HORIZON) is None
    # the first look never comes after the due-soon moment, whatever the horizon
    for horizon in (timedelta(hours=1), HORIZON, timedelta(days=40)):
        assert first_look(START, DUE) <= due_soon_at(START, DUE, horizon)


def test_a_look_sends_what_the_term_calls_for_and_moves_on_until_overdue():
    halfway = first_look(START, DUE)
    assert look_outcome(DUE, START, DUE, False, halfway, HORIZON) == (None, DUE - HORIZON)
    soon = DUE - HORIZON
    assert look_outcome(DUE, START, DUE, False, soon, HORIZON) == (DeadlineKind.DUE_SOON, DUE)
    assert look_outcome(DUE, START, DUE, False, DUE, HORIZON) == (DeadlineKind.OVERDUE, None)


def test_an_answered_appeal_ends_the_watch_at_any_look():
    for now in (first_look(START, DUE), DUE - HORIZON, DUE + timedelta(days=1)):
        assert look_outcome(DUE, START, DUE, True, now, HORIZON) == (None, None)


def test_a_look_for_another_due_time_watches_the_term_the_assignment_has_now():
    extended = DUE + timedelta(days=30)
    # the old term's look, reached after the extension: nothing sent, the new term is queued
    assert look_outcome(DUE, START, extended, False, DUE, HORIZON) == (
        None,
        first_look(START, extended),
    )
    # the new term's look, reached before the extension is stored: the old term stays watched
    assert look_outcome(extended, START, DUE, False, DUE, HORIZON) == (
        None,
        first_look(START, DUE),
    )
