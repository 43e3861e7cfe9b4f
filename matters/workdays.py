"""Working days (工作日) for time limits: Monday–Friday, minus 法定节假日, plus 调休 make-up days.

Holidays and make-up workdays are data (the ``calendar_day`` table), not code. Limits count in
China Standard Time, which has no daylight saving, so a fixed +08:00 offset is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def add_working_days(cal: Calendar, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (the day of submission itself does not count).

    ``days == 0`` means "the same day if it is a working day, else the next one".
    """
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    if days == 0:
        while not cal.is_working_day(day):
            day += timedelta(days=1)
        return day
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if cal.is_working_day(day):
            remaining -= 1
    return day


def due_at(cal: Calendar, submitted_at: datetime, days: int) -> datetime:
    """End of the last allowed working day, local (CST) midnight expressed as an aware datetime."""
    local_day = submitted_at.astimezone(CST).date()
    last = add_working_days(cal, local_day, days)
    return datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=CST)


def working_days_between(cal: Calendar, start: date, end: date) -> int:
    """How many working days lie after ``start`` up to and including ``end``."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += cal.is_working_day(day)
    return count
