"""Queries of people: who calls, the caller's children, and one child by IIN."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import iin as iin_rules
from domain.errors import RegistryUnavailable
from graph.access import can_see_child, require_role
from graph.common import I, Role
from graph.errors import api_error, not_found
from graph.people.types import ChildNode, ViewerNode


@strawberry.field(description="Who the caller is, according to their token (anyone).")
def viewer(info: I) -> ViewerNode:
    return ViewerNode(m=info.context.actor)


@strawberry.field(
    description="Citizens: their children, as the population registry lists them, with their applications. The "
    "bank apps' status query; REGISTRY_UNAVAILABLE when Kezek's copy must be refreshed and the registry is down."
)
async def my_children(info: I) -> list[ChildNode]:
    actor = require_role(info, Role.CITIZEN)
    try:
        iins = await info.context.services.queue.my_children(actor)
    except RegistryUnavailable:
        raise api_error("REGISTRY_UNAVAILABLE", "the population registry is unavailable") from None
    persons = await info.context.loaders.person_by_iin.load_many(iins)
    return [ChildNode(m=p, own=True) for p in persons if p is not None]


@strawberry.field(
    description="One child, to whoever may see them: their representatives; staff of the kindergarten where they are "
    "enrolled or hold a live offer; operators of their area or their application's; the ministry. NOT_FOUND "
    "otherwise."
)
async def child(info: I, iin: Annotated[str, strawberry.argument(description="The child's IIN.")]) -> ChildNode | None:
    require_role(info, Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    iin = iin.strip()
    if not iin_rules.is_valid(iin):  # as the mutations answer it: nothing can have such an IIN
        raise api_error("INVALID_IIN", "IIN is not a valid 12-digit identification number")
    person = await info.context.loaders.person_by_iin.load(iin)
    if person is None or not await can_see_child(info, person.iin):
        raise not_found("child")
    return ChildNode(m=person)
