"""Siblings (docs/product.md §5): priority for a brother or sister enrolled, and sibling groups seated together.

A family with more than two children, or with twins, may link its children's waiting applications as one
sibling group: same ranked choices, language and type, a common legal representative. A group is offered
seats only when one kindergarten has a fitting free seat for every member at once; a single free seat is
never held back for a group."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from domain.errors import DomainError
from domain.model import Application, ApplicationStatus, ErrorCode, Group

FIELD = "applicationIds"


def _refuse(why: str) -> DomainError:
    return DomainError(ErrorCode.SIBLINGS_NOT_LINKABLE, why, FIELD)


def check_linkable(
    apps: Sequence[Application],
    representatives: Sequence[set[str]],
    family: set[str],
    birth_dates: Sequence[dt.date | None],
) -> None:
    """`representatives` of each child, `family`: every child of their common representatives."""
    if any(a.status != ApplicationStatus.QUEUED or not a.active or a.sibling_group_id for a in apps):
        raise _refuse("only waiting applications not yet linked can be linked")
    first = apps[0]
    for a in apps[1:]:
        if a.ranking != first.ranking:
            raise _refuse("siblings must have the same ranked choices")
        if (a.language, a.group_type) != (first.language, first.group_type):
            raise _refuse("siblings must want the same language and group type")
    if not set.intersection(*representatives):
        raise _refuse("the children have no legal representative in common")
    twins = len(set(birth_dates)) == 1
    if len(family) <= 2 and not twins:
        raise _refuse("only families with more than two children, or twins, may link applications")


def seat_plan(
    members: Sequence[Application], groups: Sequence[Group], seats: Mapping[int, int] | None = None
) -> dict[int, int] | None:
    """Application id → group, a free fitting seat of this kindergarten for every member at once, or None.
    `seats`: each group's seats free from the day in question (default: from today)."""
    free = {g.id: (seats[g.id] if seats is not None else g.free_seats) for g in groups}
    plan: dict[int, int] = {}
    for app in members:
        seat = next(
            (
                g.id
                for g in sorted(groups, key=lambda g: g.id)
                if g.fits(app.birth_year, app.language, app.group_type) and free[g.id] > 0
            ),
            None,
        )
        if seat is None:
            return None
        free[seat] -= 1
        plan[app.id] = seat
    return plan
