"""Places (docs/product.md §2): kindergartens and their groups, and what an operator may set on them.

A group's capacity never goes below the seats it holds on any day the capacity applies to (enrolments in
force then and live offers: domain/seats_over_time.py `peak`), else CAPACITY_BELOW_OCCUPIED."""

from __future__ import annotations

import datetime as dt

from domain.errors import DomainError
from domain.model import ErrorCode

MAX_CAPACITY = 1000
BIRTH_YEARS = range(2000, 2101)


def check_capacity(capacity: int) -> None:
    if not 0 <= capacity <= MAX_CAPACITY:
        raise DomainError(ErrorCode.INVALID_INPUT, f"capacity must be between 0 and {MAX_CAPACITY}", "capacity")


def check_birth_years(first: int, last: int) -> None:
    if first > last:
        raise DomainError(ErrorCode.INVALID_INPUT, "birthYearFrom is after birthYearTo", "birthYearFrom")
    if first not in BIRTH_YEARS or last not in BIRTH_YEARS:
        raise DomainError(ErrorCode.INVALID_INPUT, "birth years must be real years", "birthYearFrom")


def below_occupied(occupied: int, since: dt.date | None = None) -> DomainError:
    when = f" on a day from {since.isoformat()}" if since else ""
    return DomainError(
        ErrorCode.CAPACITY_BELOW_OCCUPIED,
        f"{occupied} seats are occupied{when} (enrolled or held by live offers)",
        "capacity",
        occupied=occupied,
    )


def check_not_past(day: dt.date | None, today: dt.date, field: str) -> None:
    if day is not None and day < today:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} is in the past", field)
