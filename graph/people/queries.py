"""Queries of people: who calls, the caller's children, and one child by IIN."""

from __future__ import annotations

import strawberry

from domain import iin as iin_rules
from domain.errors import RegistryUnavailable
from graph.access import can_see_child, require_role
from graph.common import I, Role
from graph.errors import api_error, not_found
from graph.people.types import ChildNode, ViewerNode


@strawberry.field
def viewer(info: I) -> ViewerNode:
    return ViewerNode(m=info.context.actor)


@strawberry.field(description="The caller's children in the population registry.")
async def my_children(info: I) -> list[ChildNode]:
    actor = require_role(info, Role.CITIZEN)
    try:
        iins = await info.context.services.queue.my_children(actor)
    except RegistryUnavailable:
        raise api_error("REGISTRY_UNAVAILABLE", "the population registry is unavailable") from None
    persons = await info.context.loaders.person_by_iin.load_many(iins)
    return [ChildNode(m=p, own=True) for p in persons if p is not None]


@strawberry.field
async def child(info: I, iin: str) -> ChildNode | None:
    require_role(info, Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    iin = iin.strip()
    if not iin_rules.is_valid(iin):  # as the mutations answer it: nothing can have such an IIN
        raise api_error("INVALID_IIN", "IIN is not a valid 12-digit identification number")
    person = await info.context.loaders.person_by_iin.load(iin)
    if person is None or not await can_see_child(info, person.iin):
        raise not_found("child")
    return ChildNode(m=person)
