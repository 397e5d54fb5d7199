"""Places and seats (docs/product.md §2): kindergartens, their groups and the seats a group holds.

A group's *held* seats are those under live offers, *occupied* = enrolled + held, and
free seats = capacity − occupied; capacity never goes below occupied (CAPACITY_BELOW_OCCUPIED)."""

from __future__ import annotations

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


def below_occupied(occupied: int) -> DomainError:
    return DomainError(
        ErrorCode.CAPACITY_BELOW_OCCUPIED,
        f"{occupied} seats are occupied (enrolled or held by live offers)",
        "capacity",
        occupied=occupied,
    )
