"""Age limits (docs/product.md §3 "Age", §4 minimum admission age).

A child may wait until 1 September of the year it turns 6: the desired start date must come before it, and
on that day a still-waiting application closes as AGED_OUT. Offers go only to children of at least the
policy's minimum admission age (default 24 months)."""

from __future__ import annotations

import datetime as dt

from domain.errors import DomainError
from domain.model import ErrorCode

SCHOOL_AGE = 6


def aged_out_on(birth_date: dt.date) -> dt.date:
    """1 September of the year the child turns 6."""
    return dt.date(birth_date.year + SCHOOL_AGE, 9, 1)


def latest_aged_out_birth_year(today: dt.date) -> int:
    """Children born in this year or earlier have aged out by `today` (`aged_out_on` for whole cohorts)."""
    return today.year - SCHOOL_AGE if today >= dt.date(today.year, 9, 1) else today.year - SCHOOL_AGE - 1


def check_start_date(desired: dt.date, today: dt.date, birth_date: dt.date) -> None:
    if desired < today:
        raise DomainError(ErrorCode.INVALID_INPUT, "the desired start date is in the past", "desiredStartDate")
    if desired >= aged_out_on(birth_date):
        raise DomainError(
            ErrorCode.AGE_OUT_OF_RANGE,
            "the desired start date must be before 1 September of the year the child turns 6",
            "desiredStartDate",
        )


def months_between(born: dt.date, day: dt.date) -> int:
    """Whole months of age on `day`."""
    months = (day.year - born.year) * 12 + (day.month - born.month)
    return months - 1 if day.day < born.day else months


def old_enough(born: dt.date, day: dt.date, min_months: int) -> bool:
    return months_between(born, day) >= min_months


def old_enough_from(born: dt.date, min_months: int) -> dt.date:
    """The first day a child born on `born` is `min_months` old (`old_enough`): the same day of the month that many
    months on, or the first of the next month when that month is shorter."""
    year, month = divmod(born.year * 12 + born.month - 1 + min_months, 12)
    try:
        return dt.date(year, month + 1, born.day)
    except ValueError:
        return dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)


def born_by(day: dt.date, min_months: int) -> dt.date:
    """The latest birth date of a child at least `min_months` old on `day`: `old_enough` for SQL to compare
    birth dates with (a day past the end of a shorter month counts from its last day)."""
    months = day.year * 12 + (day.month - 1) - min_months
    year, month = divmod(months, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))
