"""What the API's inputs may hold (docs/api.md §3): ids, phones, required text. Checked before any work."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.errors import DomainError
from domain.model import ErrorCode

_PHONE = re.compile(r"^\+7\d{10}$")
MAX_ID = 2**63  # ids are PostgreSQL bigints


def object_id(value: str) -> int | None:
    """The id an API `ID` names: a positive bigint; anything else names nothing (None)."""
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if 0 < n < MAX_ID else None


def ids(raw: Sequence[str], what: str, field: str) -> list[int]:
    """Ids of `what` (kindergarten, group…); one that names nothing is NOT_FOUND, worded as a missing one."""
    out: list[int] = []
    for value in raw:
        n = object_id(value)
        if n is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no {what} with id {value!r}", field, what=what)
        out.append(n)
    return out


def check_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    phone = phone.replace(" ", "").replace("-", "")
    if not _PHONE.match(phone):
        raise DomainError(ErrorCode.INVALID_INPUT, "phone must look like +7XXXXXXXXXX", "phone")
    return phone


def required(value: str | None, field: str, why: str | None = None) -> str:
    """Text that must be given and not blank."""
    if value is None or not value.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, why or f"{field} must not be empty", field)
    return value
