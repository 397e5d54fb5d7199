"""What callers ask the use cases to do: plain values, checked by the use case that runs them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from domain.model import GroupType, Language, Ownership


@dataclass(frozen=True, slots=True)
class SubmitApplication:
    child_iin: str
    kindergarten_ids: Sequence[str]
    language: Language
    group_type: GroupType = GroupType.GENERAL
    desired_start_date: dt.date | None = None
    phone: str | None = None
    notification_language: Language = Language.RU


@dataclass(frozen=True, slots=True)
class NewKindergarten:
    external_id: str
    district_code: str
    name_kk: str
    name_ru: str
    address: str
    ownership: Ownership
    state_order: bool


@dataclass(frozen=True, slots=True)
class NewGroup:
    kindergarten_id: str
    external_id: str
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType
    capacity: int
    opens_on: dt.date | None = None  # None: open at once
