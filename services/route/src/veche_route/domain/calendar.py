"""Statutory deadlines on the Russian production calendar.

59-ФЗ counts calendar days from registration (ст. 8: redirect within 7 days; ст. 12: answer within
30 days). A term that ends on a non-working day ends on the next working day (ГК РФ ст. 193,
applied by analogy in practice). Working days come from the ``holidays`` library
(``country_holidays("RU")``), which knows public holidays and the government's yearly transfers
(working Saturdays and moved days off) — no hand-written list here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

MOSCOW = ZoneInfo("Europe/Moscow")
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True, slots=True)
class StatutoryTerms:
    register_days: int = 3
    redirect_days: int = 7
    answer_days: int = 30


@lru_cache(maxsize=1)
def _calendar() -> holidays.HolidayBase:
    return holidays.country_holidays("RU")


def is_working_day(day: date) -> bool:
    return bool(_calendar().is_working_day(day))


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def term_end(start: datetime, days: int, tz: ZoneInfo = MOSCOW) -> datetime:
    """End of a term of ``days`` calendar days counted from the day after ``start``."""
    local_start = start.astimezone(tz).date()
    last_day = next_working_day(local_start + timedelta(days=days))
    return datetime.combine(last_day, END_OF_DAY, tzinfo=tz)
