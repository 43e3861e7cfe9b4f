"""Working days over the holiday table: weekends, 法定节假日 and 调休 make-up workdays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from matters import store
from matters.workdays import CST, Calendar, add_working_days, due_at, working_days_between

PLAIN = Calendar()


def test_weekends_are_skipped() -> None:
    friday = date(2026, 11, 20)
    assert add_working_days(PLAIN, friday, 1) == date(2026, 11, 23)
    assert add_working_days(PLAIN, friday, 5) == date(2026, 11, 27)
    assert add_working_days(PLAIN, date(2026, 11, 21), 0) == date(2026, 11, 23)  # Saturday → Monday


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(PLAIN, date(2026, 1, 5), -1)


async def test_national_day_and_make_up_workday(conn: asyncpg.Connection) -> None:
    cal = await store.load_calendar(conn)
    # 2026-09-30 (Wed) + 1 working day: Oct 1–7 are holidays or weekend; Oct 8 (Thu) is next.
    assert add_working_days(cal, date(2026, 9, 30), 1) == date(2026, 10, 8)
    # Saturday 2026-10-10 is a 调休 workday, so it counts.
    assert cal.is_working_day(date(2026, 10, 10))
    assert add_working_days(cal, date(2026, 10, 9), 1) == date(2026, 10, 10)
    # Spring Festival: Feb 16–20 and 23 are holidays, Saturday Feb 14 and 28 are workdays.
    assert add_working_days(cal, date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(cal, date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert working_days_between(cal, date(2026, 2, 13), date(2026, 2, 28)) == 6  # 14th, 24th–27th, 28th


async def test_due_at_ends_with_the_local_day(conn: asyncpg.Connection) -> None:
    cal = await store.load_calendar(conn)
    # Submitted Friday 2026-11-20 at 23:30 Beijing time (15:30 UTC): 2 working days → end of Tue 24th.
    submitted = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert due_at(cal, submitted, 2) == datetime(2026, 11, 25, 0, 0, tzinfo=CST)
    # Submitted Friday 16:30 UTC is already Saturday in Beijing: the count starts from Saturday.
    assert due_at(cal, datetime(2026, 11, 20, 16, 30, tzinfo=UTC), 1) == datetime(2026, 11, 24, 0, 0, tzinfo=CST)
