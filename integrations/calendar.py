"""Kazakhstan's working-day calendar (docs/product.md §6), built on the `holidays` library."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import holidays


@dataclass(frozen=True, slots=True)
class _Year:
    weekend: frozenset[int]  # weekday numbers, Monday = 0
    days_off: frozenset[dt.date]  # public holidays, observed (moved) days off, substituted days off
    working_weekend_days: frozenset[dt.date]  # Saturdays the government made working days


class KazakhstanCalendar:
    """`HolidayCalendar` for Kazakhstan: weekends and public holidays are days off.

    The library covers the Law on holidays (a holiday on a weekend moves to the next working day) and
    the government's yearly transfer decrees up to the last year its maintainers added; a decree it
    does not know yet can be supplied as `extra_days_off` / `extra_working_days`.
    """

    def __init__(
        self,
        extra_days_off: Iterable[dt.date] = (),
        extra_working_days: Iterable[dt.date] = (),
    ) -> None:
        self._extra_off = frozenset(extra_days_off)
        self._extra_working = frozenset(extra_working_days)
        self._years: dict[int, _Year] = {}
        # Windows are computed from request handlers and the worker alike; build each year once.
        self._lock = threading.Lock()

    def is_working_day(self, day: dt.date) -> bool:
        if day in self._extra_working:
            return True
        if day in self._extra_off:
            return False
        year = self._year(day.year)
        if day.weekday() in year.weekend:
            return day in year.working_weekend_days
        return day not in year.days_off

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._years[year] = _load(year)
            return cached


def _load(year: int) -> _Year:
    # Only PUBLIC holidays are days off; the library has no other category for KZ.
    table = holidays.country_holidays("KZ", years=year)
    days_off: frozenset[dt.date] = frozenset(table.keys())
    # A substituted day off (e.g. Fri 3 Jan 2025) is worked on a weekend day (Sun 5 Jan 2025):
    # the library lists those weekend days in `weekend_workdays` once the year is populated.
    weekend_workdays: Iterable[dt.date] = getattr(table, "weekend_workdays", ())
    return _Year(
        weekend=frozenset(table.weekend),
        days_off=days_off,
        working_weekend_days=frozenset(d for d in weekend_workdays if d.year == year),
    )
