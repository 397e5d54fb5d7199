"""Kazakhstan's individual identification number (ИИН / ЖСН): docs/product.md §3."""

from __future__ import annotations

import datetime as dt

from domain.errors import DomainError
from domain.model import ErrorCode

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
# The seventh digit: century and sex (3/4 the 1900s, 5/6 the 2000s; odd = male). No person Kezek deals with was
# born in the 1800s, so 1 and 2 are refused with the rest.
_CENTURY = {"3": 1900, "4": 1900, "5": 2000, "6": 2000}


def check_digit(first11: str) -> int | None:
    """The 12th digit for these 11, or None when no digit makes the IIN valid."""
    digits = [int(c) for c in first11]
    s = sum(d * w for d, w in zip(digits, _W1, strict=True)) % 11
    if s == 10:
        s = sum(d * w for d, w in zip(digits, _W2, strict=True)) % 11
        if s == 10:
            return None
    return s


def birth_date(iin: str) -> dt.date | None:
    century = _CENTURY.get(iin[6]) if len(iin) == 12 else None
    if century is None:
        return None
    try:
        return dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None


def is_valid(iin: str) -> bool:
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return False
    if birth_date(iin) is None:
        return False
    return check_digit(iin[:11]) == int(iin[11])


def sex(iin: str) -> str:
    return "M" if int(iin[6]) % 2 == 1 else "F"


def mask(iin: str) -> str:
    """What logs, messages and public views may show: the birth date part and the last digit hidden."""
    if len(iin) != 12:
        return "***"
    return iin[:2] + "*" * 9 + iin[-1]


def make(born: dt.date, male: bool, serial: int) -> str:
    """A valid IIN for a birth date, sex and serial (demo and benchmark data); skips impossible serials."""
    if born.year < 1900:
        raise ValueError("IINs name births from 1900 on")
    c = (5 if male else 6) if born.year >= 2000 else (3 if male else 4)
    s = serial
    while True:
        first = f"{born:%y%m%d}{c}{s % 10000:04d}"
        d = check_digit(first)
        if d is not None:
            return first + str(d)
        s += 1


def check(value: str, field: str = "childIin") -> str:
    """The IIN, trimmed, or INVALID_IIN (docs/product.md §3): the same refusal wherever an IIN comes in."""
    value = value.strip()
    if not is_valid(value):
        raise DomainError(ErrorCode.INVALID_IIN, "IIN is not a valid 12-digit identification number", field)
    return value
