"""KazakhstanCalendar and the working-day windows of docs/product.md §6."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.policy import Window
from domain.timezone import ALMATY
from integrations.calendar import KazakhstanCalendar

CAL = KazakhstanCalendar()

HOLIDAYS_2026 = [
    dt.date(2026, 1, 1),
    dt.date(2026, 1, 2),
    dt.date(2026, 3, 8),
    dt.date(2026, 3, 21),
    dt.date(2026, 3, 22),
    dt.date(2026, 3, 23),
    dt.date(2026, 5, 1),
    dt.date(2026, 5, 7),
    dt.date(2026, 5, 9),
    dt.date(2026, 7, 6),
    dt.date(2026, 8, 30),
    dt.date(2026, 10, 25),
    dt.date(2026, 12, 16),
]


@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_public_holidays_are_days_off(day: dt.date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 3, 9),  # 8 March falls on a Sunday: Monday is off
        dt.date(2026, 3, 24),  # Nauryz 21–22 March fall on the weekend
        dt.date(2026, 3, 25),
        dt.date(2026, 5, 11),  # Victory Day falls on a Saturday
    ],
    ids=str,
)
def test_holiday_on_weekend_moves_to_next_working_day(day: dt.date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize("day", [dt.date(2026, 4, 4), dt.date(2026, 4, 5), dt.date(2026, 6, 13)], ids=str)
def test_weekends_are_days_off(day: dt.date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 1, 5),
        dt.date(2026, 3, 20),
        dt.date(2026, 3, 26),
        dt.date(2026, 4, 15),
        dt.date(2026, 12, 15),
    ],
    ids=str,
)
def test_ordinary_weekdays_are_working_days(day: dt.date) -> None:
    assert CAL.is_working_day(day)


def test_government_transfer_makes_a_sunday_a_working_day() -> None:
    # 2025: Friday 3 January off, worked on Sunday 5 January.
    assert not CAL.is_working_day(dt.date(2025, 1, 3))
    assert CAL.is_working_day(dt.date(2025, 1, 5))


def test_extra_decree_days() -> None:
    cal = KazakhstanCalendar(extra_days_off=[dt.date(2026, 4, 15)], extra_working_days=[dt.date(2026, 4, 18)])
    assert not cal.is_working_day(dt.date(2026, 4, 15))
    assert cal.is_working_day(dt.date(2026, 4, 18))


def _almaty(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ALMATY)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), ALMATY)


def test_window_spans_a_weekend() -> None:
    # Thursday 16 April 2026 → Friday, (weekend), Monday.
    end = Window(working_days=2).end(_almaty(2026, 4, 16, 10, 0), CAL)
    assert end == _end_of(dt.date(2026, 4, 20))
    assert end.tzinfo == dt.UTC
    assert end.astimezone(ALMATY).time() == dt.time(23, 59, 59)


def test_window_spans_weekend_and_nauryz() -> None:
    # Friday 20 March 2026: 21–25 March are off (weekend, Nauryz, Nauryz moved off the weekend).
    end = Window(working_days=2).end(_almaty(2026, 3, 20, 15, 30), CAL)
    assert end == _end_of(dt.date(2026, 3, 27))


def test_window_counts_from_the_almaty_day() -> None:
    # 20:00 UTC on Thursday 30 April is already Friday 1 May (a holiday) in Almaty.
    start = dt.datetime(2026, 4, 30, 20, 0, tzinfo=dt.UTC)
    end = Window(working_days=2).end(start, CAL)
    # Saturday, Sunday off; Monday 4 May, Tuesday 5 May.
    assert end == _end_of(dt.date(2026, 5, 5))


def test_window_across_new_year() -> None:
    # Wednesday 30 December 2026 → Thursday 31 December; 1–3 January off, and Saturday 2 January's
    # day off moves to Monday 4 January; so Tuesday 5 January.
    end = Window(working_days=2).end(_almaty(2026, 12, 30, 9, 0), CAL)
    assert end == _end_of(dt.date(2027, 1, 5))
