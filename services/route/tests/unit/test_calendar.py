from datetime import UTC, date, datetime, timedelta

import pytest
from veche_route.domain.calendar import (
    MOSCOW,
    StatutoryTerms,
    Term,
    TermUnit,
    is_working_day,
    nth_working_day,
    term_end,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 11, 1), True),  # Saturday made a working day (transfer from 3 November)
        (date(2025, 11, 3), False),  # the Monday off it was moved to
        (date(2025, 12, 31), False),  # day off transferred from Sunday 5 January 2025
        (date(2025, 5, 2), False),  # day off transferred from Saturday 4 January 2025
        (date(2025, 5, 8), False),  # day off transferred from Sunday 23 February 2025
        (date(2026, 1, 5), False),  # New Year holidays
        (date(2026, 1, 9), False),  # day off transferred from Saturday 3 January 2026
        (date(2026, 1, 12), True),  # first working day of 2026
        (date(2026, 3, 9), False),  # 8 March falls on a Sunday
        (date(2026, 12, 31), False),  # day off transferred from Sunday 4 January 2026
    ],
)
def test_production_calendar_knows_holidays_and_transfers(day, working):
    assert is_working_day(day) is working


def test_a_term_ending_in_the_new_year_break_moves_to_the_first_working_day():
    registered = datetime(2025, 12, 8, 12, tzinfo=UTC)  # +30 days = 7 January 2026
    assert term_end(registered, 30).date() == date(2026, 1, 12)


def test_a_term_ending_on_a_transferred_day_off_moves_on():
    registered = datetime(2025, 12, 1, 9, tzinfo=UTC)  # +30 days = 31 December 2025, a day off
    assert term_end(registered, 30).date() == date(2026, 1, 12)


def test_a_term_ending_on_a_working_day_stays_and_ends_at_midnight_moscow():
    end = term_end(datetime(2026, 3, 2, 9, tzinfo=UTC), 7)
    assert end.date() == date(2026, 3, 10)  # 9 March is the moved 8 March holiday
    assert (end.hour, end.minute, end.tzinfo) == (23, 59, MOSCOW)


def test_working_days_skip_the_new_year_break():
    # 26, 29, 30 December; 31 Dec to 11 Jan off; 12-16, 19, 20 January
    assert nth_working_day(date(2025, 12, 25), 10) == date(2026, 1, 20)


def test_working_days_count_a_transferred_working_saturday():
    assert nth_working_day(date(2025, 10, 30), 2) == date(2025, 11, 1)


def test_hours_are_clock_time():
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)  # a holiday does not stop the clock
    assert Term(24, TermUnit.HOURS, "").end(start) == start + timedelta(hours=24)


def test_the_shortest_applicable_answer_term_wins(router):
    terms: StatutoryTerms = router.terms
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    plain, basis = terms.answer(start, topic="roads", channel="portal", critical=False)
    assert plain.date() == date(2026, 12, 21)
    assert "59-ФЗ" in basis.basis
    pos, basis = terms.answer(start, topic="roads", channel="pos", critical=False)
    assert pos.date() == date(2026, 12, 4)
    assert basis.unit is TermUnit.WORKING_DAYS
    social, _ = terms.answer(start, topic="roads", channel="social", critical=False)
    assert social == start + timedelta(hours=24)
    critical, basis = terms.answer(start, topic="emergencies", channel="social", critical=True)
    assert critical == start + timedelta(hours=2)


def test_terms_file_rejects_a_term_without_exactly_one_unit():
    with pytest.raises(ValueError, match="exactly one"):
        Term.from_data({"days": 3, "hours": 4})
    with pytest.raises(ValueError, match="positive"):
        Term.from_data({"days": 0})
