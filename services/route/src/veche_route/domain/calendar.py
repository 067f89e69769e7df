"""Statutory terms on the Russian production calendar.

59-ФЗ counts calendar days from registration (ст. 8: redirect within 7 days; ст. 12: answer
within 30 days). A term in days that ends on a non-working day ends on the next working day
(ГК РФ ст. 193, applied by analogy in practice); a term in working days skips every non-working
day; a term in hours (social-media incidents, critical appeals) is clock time.

Working days come from the ``holidays`` library (``country_holidays("RU")``, maintained by the
vacanza project): public holidays, the days off the government moves each year by decree
(«Day off (substituted from …)», e.g. 31 December 2025 and 9 January 2026) and the working
weekend days those transfers create (``weekend_workdays``, e.g. Saturday 1 November 2025) —
``is_working_day`` and ``get_nth_working_day`` account for all three. No hand-written list here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

MOSCOW = ZoneInfo("Europe/Moscow")
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=1)
def _calendar() -> holidays.HolidayBase:
    return holidays.country_holidays("RU")


# Every appeal of a day asks about the same few days: remembered, a day costs a dict lookup
# instead of the library's holiday checks (~8 % of route's CPU at saturation). The calendar of
# a process is fixed, so a remembered answer never goes stale; two years of days fit.
@lru_cache(maxsize=1024)
def is_working_day(day: date) -> bool:
    return bool(_calendar().is_working_day(day))


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


@lru_cache(maxsize=1024)
def nth_working_day(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
    return date.fromisoformat(str(_calendar().get_nth_working_day(day, count)))


def term_end(start: datetime, days: int, tz: ZoneInfo = MOSCOW) -> datetime:
    """End of a term of ``days`` calendar days counted from the day after ``start``."""
    local_start = start.astimezone(tz).date()
    last_day = next_working_day(local_start + timedelta(days=days))
    return datetime.combine(last_day, END_OF_DAY, tzinfo=tz)


class TermUnit(StrEnum):
    DAYS = "days"  # calendar days, the end moved off a non-working day
    WORKING_DAYS = "working_days"
    HOURS = "hours"


@dataclass(frozen=True, slots=True)
class Term:
    amount: int
    unit: TermUnit
    basis: str

    @classmethod
    def from_data(cls, data: dict[str, Any], default_basis: str = "") -> Term:
        units = [unit for unit in TermUnit if unit.value in data]
        if len(units) != 1:
            raise ValueError(f"a term needs exactly one of {[u.value for u in TermUnit]}: {data}")
        amount = int(data[units[0].value])
        if amount <= 0:
            raise ValueError(f"a term must be positive: {data}")
        return cls(amount, units[0], str(data.get("basis", default_basis)))

    def end(self, start: datetime, tz: ZoneInfo = MOSCOW) -> datetime:
        if self.unit is TermUnit.HOURS:
            return (start + timedelta(hours=self.amount)).astimezone(tz)
        if self.unit is TermUnit.WORKING_DAYS:
            last_day = nth_working_day(start.astimezone(tz).date(), self.amount)
            return datetime.combine(last_day, END_OF_DAY, tzinfo=tz)
        return term_end(start, self.amount, tz)

    @property
    def label(self) -> str:
        return self.basis or f"{self.amount} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class StatutoryTerms:
    """Which term applies to which appeal, from ``data/terms.yaml``.

    The answer term is the *shortest* of those that apply: the default (or the topic's own),
    the channel's (ПОС «сообщения», social-media incidents) and, for ``critical`` urgency, the
    topic's hours — an urgent appeal never waits longer because of the channel it came by.
    """

    register: Term
    redirect: Term
    answer_default: Term
    extension_max_days: int = 30
    topics: dict[str, Term] | None = None
    channels: dict[str, Term] | None = None
    critical: Term | None = None
    critical_topics: dict[str, Term] | None = None

    @classmethod
    def default(cls) -> StatutoryTerms:
        return cls(
            register=Term(3, TermUnit.DAYS, "59-ФЗ ст. 8 ч. 2: регистрация в течение 3 дней"),
            redirect=Term(7, TermUnit.DAYS, "59-ФЗ ст. 8 ч. 3: переадресация в течение 7 дней"),
            answer_default=Term(30, TermUnit.DAYS, "59-ФЗ ст. 12 ч. 1: ответ в течение 30 дней"),
        )

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StatutoryTerms:
        def terms(section: dict[str, Any] | None) -> dict[str, Term]:
            return {key: Term.from_data(value) for key, value in (section or {}).items()}

        critical = data.get("critical") or {}
        return cls(
            register=Term.from_data(data["register"]),
            redirect=Term.from_data(data["redirect"]),
            answer_default=Term.from_data(data["answer"]),
            extension_max_days=int((data.get("extension") or {}).get("max_days", 30)),
            topics=terms(data.get("topics")),
            channels=terms(data.get("channels")),
            critical=Term.from_data(critical["default"]) if critical.get("default") else None,
            critical_topics=terms(critical.get("topics")),
        )

    def answer(
        self, start: datetime, *, topic: str, channel: str, critical: bool, tz: ZoneInfo = MOSCOW
    ) -> tuple[datetime, Term]:
        """The answer deadline from ``start`` and the term that set it."""
        candidates = [(self.topics or {}).get(topic, self.answer_default)]
        if channel_term := (self.channels or {}).get(channel):
            candidates.append(channel_term)
        if critical and (urgent := (self.critical_topics or {}).get(topic) or self.critical):
            candidates.append(urgent)
        return min(((term.end(start, tz), term) for term in candidates), key=lambda pair: pair[0])
