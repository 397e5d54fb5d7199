"""Who may see and do what (docs/api.md §3 "who" columns), as pure predicates."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import DomainError
from domain.model import Actor, ErrorCode, Role


def forbid_unless(actor: Actor, *roles: Role) -> None:
    """An operation the caller's role may never use is FORBIDDEN (not NOT_FOUND)."""
    if actor.role not in roles:
        raise DomainError(ErrorCode.FORBIDDEN, "this operation is not available to the caller's role")


def not_found(what: str, field: str | None = None) -> DomainError:
    # Invisible and missing objects are answered alike: no hint of existence.
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field, what=what)


def in_area(actor: Actor, region_code: str | None, district_code: str | None) -> bool:
    if actor.role != Role.AKIMAT_OPERATOR or actor.region_code is None:
        return False
    if region_code != actor.region_code:
        return False
    return actor.district_code is None or actor.district_code == district_code


def any_in_area(actor: Actor, areas: Iterable[tuple[str | None, str | None]]) -> bool:
    return any(in_area(actor, region, district) for region, district in areas)


def is_owner(actor: Actor, representative_iins: Iterable[str]) -> bool:
    return actor.role == Role.CITIZEN and actor.subject is not None and actor.subject in set(representative_iins)


def can_see_application(
    actor: Actor,
    representative_iins: Iterable[str],
    areas: Iterable[tuple[str | None, str | None]],
) -> bool:
    """Owner, an operator of the child's area or of a chosen/enrolled kindergarten's area, or the ministry."""
    if actor.role == Role.MINISTRY:
        return True
    if actor.role == Role.CITIZEN:
        return is_owner(actor, representative_iins)
    if actor.role == Role.AKIMAT_OPERATOR:
        return any_in_area(actor, areas)
    return False


def can_manage_kindergarten(actor: Actor, external_id: str, region_code: str, district_code: str) -> bool:
    if actor.role == Role.KINDERGARTEN_STAFF:
        return actor.kindergarten == external_id
    return in_area(actor, region_code, district_code)
