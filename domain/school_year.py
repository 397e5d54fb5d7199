"""The school year (docs/product.md §10 "Candidates for a seat free from date D", "Before and after").

School year Y runs from 1 September Y to 31 August Y+1. A seat free from a later date is offered ahead only
within the region's advance window; a seat free from a day of a school year that has not begun yet waits
for that year's intake run in its region, and goes through the ordinary vacancy chain once the run is
published."""

from __future__ import annotations

import datetime as dt

from domain.errors import DomainError
from domain.model import ErrorCode

FIRST_MONTH = 9
INTAKE_MONTH = 7  # the akimats hand out the next school year's seats from 1 July (docs/product.md §10)


def school_year_of(day: dt.date) -> int:
    return day.year if day.month >= FIRST_MONTH else day.year - 1


def first_day(year: int) -> dt.date:
    """1 September of school year `year`: the day the seats of its intake run are free from."""
    return dt.date(year, FIRST_MONTH, 1)


def intake_opens(year: int) -> dt.date:
    """1 July before school year `year`: from then its intake run's offers are made."""
    return dt.date(year, INTAKE_MONTH, 1)


def within_advance(free_from: dt.date, today: dt.date, advance_offer_days: int) -> bool:
    return free_from <= today + dt.timedelta(days=advance_offer_days)


def waits_for_intake(free_from: dt.date, today: dt.date) -> int | None:
    """The school year whose intake run a seat free from `free_from` waits for (None: it is offered now)."""
    year = school_year_of(free_from)
    return year if year > school_year_of(today) else None


def check_intake_year(year: int, today: dt.date) -> None:
    """A run is for the coming school year: the next 1 September, not one already begun."""
    if year != school_year_of(today) + 1:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"an intake run is for the coming school year ({school_year_of(today) + 1})",
            "schoolYear",
        )
