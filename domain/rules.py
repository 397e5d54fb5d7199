"""Pure rules of stage 1 (PRODUCT.md §3): input checks, age limits, tiers, queue order."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from domain import iin as iin_rules
from domain.errors import DomainError
from domain.model import (
    ClaimStatus,
    ErrorCode,
    Group,
    GroupType,
    Language,
    PriorityClaim,
    PriorityTier,
    QueueOrder,
)

MAX_CHOICES = 4
_PHONE = re.compile(r"^\+7\d{10}$")


def check_iin(value: str, field: str = "childIin") -> str:
    value = value.strip()
    if not iin_rules.is_valid(value):
        raise DomainError(ErrorCode.INVALID_IIN, "IIN is not a valid 12-digit identification number", field)
    return value


def object_id(value: str) -> int | None:
    """The id an API `ID` names: a positive bigint; anything else names nothing (None)."""
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if 0 < n < 2**63 else None


def parse_ids(raw: Sequence[str], field: str) -> list[int]:
    ids: list[int] = []
    for value in raw:
        n = object_id(value)
        if n is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no kindergarten with id {value!r}", field)
        ids.append(n)
    return ids


def check_choices(kindergarten_ids: Sequence[int], field: str = "kindergartenIds") -> None:
    if not kindergarten_ids:
        raise DomainError(ErrorCode.INVALID_INPUT, "choose at least one kindergarten", field)
    if len(kindergarten_ids) > MAX_CHOICES:
        raise DomainError(ErrorCode.TOO_MANY_CHOICES, f"at most {MAX_CHOICES} kindergartens", field)
    if len(set(kindergarten_ids)) != len(kindergarten_ids):
        raise DomainError(ErrorCode.DUPLICATE_CHOICE, "a kindergarten is chosen twice", field)


def check_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    phone = phone.replace(" ", "").replace("-", "")
    if not _PHONE.match(phone):
        raise DomainError(ErrorCode.INVALID_INPUT, "phone must look like +7XXXXXXXXXX", "phone")
    return phone


def aged_out_on(birth_date: dt.date) -> dt.date:
    """1 September of the year the child turns 6."""
    return dt.date(birth_date.year + 6, 9, 1)


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
    months = (day.year - born.year) * 12 + (day.month - born.month)
    return months - 1 if day.day < born.day else months


def tier_of(claims: Iterable[PriorityClaim]) -> PriorityTier:
    """The highest tier among VERIFIED claims; GENERAL without one."""
    ranks = [c.tier.rank for c in claims if c.status == ClaimStatus.VERIFIED]
    return PriorityTier.from_rank(min(ranks)) if ranks else PriorityTier.GENERAL


def fitting_groups(groups: Iterable[Group], birth_year: int, language: Language, group_type: GroupType) -> list[Group]:
    return [g for g in groups if g.fits(birth_year, language, group_type)]


def queue_order(tier: PriorityTier, sibling_enrolled: bool, queue_date: dt.datetime, app_id: int) -> QueueOrder:
    return QueueOrder(tier.rank, 0 if sibling_enrolled else 1, queue_date, app_id)


def positions(orders: Sequence[QueueOrder]) -> dict[QueueOrder, int]:
    """Reference ranking of one queue, used to check the database's index-backed count."""
    return {o: i + 1 for i, o in enumerate(sorted(orders))}
