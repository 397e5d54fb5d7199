"""Choices (docs/product.md §3 "Choices", "Changing"): 1 to 4 distinct kindergartens, ranked; each must have a group
that fits the child; choices ranked below an enrolment are dropped and cannot be added back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.errors import DomainError
from domain.model import ErrorCode, Group, GroupType, Language

MAX_CHOICES = 4
FIELD = "kindergartenIds"


def check_ranking(kindergarten_ids: Sequence[int]) -> None:
    if not kindergarten_ids:
        raise DomainError(ErrorCode.INVALID_INPUT, "choose at least one kindergarten", FIELD)
    if len(kindergarten_ids) > MAX_CHOICES:
        raise DomainError(ErrorCode.TOO_MANY_CHOICES, f"at most {MAX_CHOICES} kindergartens", FIELD, limit=MAX_CHOICES)
    if len(set(kindergarten_ids)) != len(kindergarten_ids):
        raise DomainError(ErrorCode.DUPLICATE_CHOICE, "a kindergarten is chosen twice", FIELD)


def check_change(new: Sequence[int], dropped: Iterable[int], held: set[int]) -> None:
    """A new ranking may not bring back a kindergarten dropped below an enrolment, nor leave out the one the
    child is enrolled in."""
    if set(dropped) & set(new):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "kindergartens ranked below the enrolment cannot be added back", FIELD
        )
    if held - set(new):
        raise DomainError(ErrorCode.INVALID_INPUT, "the kindergarten the child is enrolled in must stay listed", FIELD)


def fitting(groups: Iterable[Group], birth_year: int, language: Language, group_type: GroupType) -> list[Group]:
    return [g for g in groups if g.fits(birth_year, language, group_type)]


def check_fits(
    kindergarten_id: int, groups: Iterable[Group], birth_year: int, language: Language, group_type: GroupType
) -> None:
    if not fitting(groups, birth_year, language, group_type):
        raise DomainError(
            ErrorCode.NO_SUITABLE_GROUP,
            f"kindergarten {kindergarten_id} has no {language.value} {group_type.value} group for {birth_year}",
            FIELD,
        )
