"""The IIN rules of domain/iin.py (PRODUCT.md §3): a valid IIN has a right check digit AND names a real birth
date (YYMMDD, then a century-and-sex digit 1-6). Every invalid case below has a right check digit, so that it
is refused for its date alone."""

from __future__ import annotations

import datetime as dt

import pytest

from domain import iin


def _with_check_digit(first7: str) -> str:
    """first7 (YYMMDD + century digit) plus the first serial whose check digit exists, plus that digit."""
    for serial in range(10_000):
        first11 = f"{first7}{serial:04d}"
        digit = iin.check_digit(first11)
        if digit is not None:
            return first11 + str(digit)
    raise AssertionError(f"no serial gives {first7} a check digit")


@pytest.mark.parametrize(
    "first7",
    [
        "2203100",  # century digit 0
        "2203107",  # 7
        "2203108",  # 8
        "2203109",  # 9
        "2213105",  # month 13
        "2200105",  # month 00
        "2201325",  # 32 January
        "2201005",  # day 00
        "2202305",  # 30 February
        "2302295",  # 29 February in a common year (2023)
        "0002293",  # 29 February 1900: no leap day in a century year not divisible by 400
        "2204315",  # 31 April
    ],
)
def test_a_right_check_digit_on_an_impossible_birth_date_is_invalid(first7: str) -> None:
    """Guards is_valid's birth-date check: without it these IINs, whose check digit is right, would pass."""
    value = _with_check_digit(first7)
    assert iin.check_digit(value[:11]) == int(value[11])
    assert iin.birth_date(value) is None
    assert iin.is_valid(value) is False


@pytest.mark.parametrize(
    ("first7", "born", "sex"),
    [
        ("9912311", None, "M"),  # the 1800s (1 and 2) are refused: docs/decisions.md 44
        ("0001012", None, "F"),
        ("9202293", dt.date(1992, 2, 29), "M"),
        ("0002294", None, "F"),  # 1900 was a common year
        ("0002295", dt.date(2000, 2, 29), "M"),  # 2000 was a leap year
        ("2402296", dt.date(2024, 2, 29), "F"),
        ("2212315", dt.date(2022, 12, 31), "M"),
    ],
)
def test_the_seventh_digit_names_century_and_sex(first7: str, born: dt.date | None, sex: str) -> None:
    value = _with_check_digit(first7)
    assert iin.birth_date(value) == born
    assert iin.is_valid(value) is (born is not None)
    assert iin.sex(value) == sex


def test_a_wrong_check_digit_on_a_real_date_is_invalid() -> None:
    value = _with_check_digit("2203105")
    assert iin.is_valid(value)
    for digit in "0123456789":
        if digit != value[11]:
            assert not iin.is_valid(value[:11] + digit), digit


def test_eleven_digits_without_any_check_digit_make_no_iin() -> None:
    """Both weightings give 10 for some serials: no 12th digit makes those valid."""
    without = [f"2203105{s:04d}" for s in range(10_000) if iin.check_digit(f"2203105{s:04d}") is None]
    assert without, "no serial without a check digit: the second weighting is never needed"
    for first11 in without[:5]:
        assert not any(iin.is_valid(first11 + d) for d in "0123456789")


def test_make_gives_valid_iins_for_its_date_and_sex() -> None:
    for born, male in ((dt.date(2023, 5, 5), True), (dt.date(1990, 1, 10), False), (dt.date(2000, 7, 7), True)):
        value = iin.make(born, male, 4321)
        assert iin.is_valid(value) and iin.birth_date(value) == born
        assert iin.sex(value) == ("M" if male else "F")
    with pytest.raises(ValueError):
        iin.make(dt.date(1899, 7, 7), True, 4321)  # the 1800s are refused: docs/decisions.md 44


def test_mask_shows_only_the_first_two_digits_and_the_last() -> None:
    value = _with_check_digit("2203105")
    assert iin.mask(value) == value[:2] + "*" * 9 + value[-1]
    assert iin.mask("123") == "***"
