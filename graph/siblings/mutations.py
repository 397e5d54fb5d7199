"""Linking the applications of twins (or children of a large family) into one sibling group (docs/product.md §6)."""

from __future__ import annotations

import strawberry

from domain.inputs import object_id
from domain.model import Actor, Role
from graph.applications.mutations import visible
from graph.applications.types import ApplicationNode
from graph.common import I, UserError
from graph.runner import run_mutation


@strawberry.input
class LinkSiblingsInput:
    application_ids: list[strawberry.ID]
    idempotency_key: str | None = None


@strawberry.type
class LinkSiblingsPayload:
    applications: list[ApplicationNode] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation
async def link_siblings(info: I, input: LinkSiblingsInput) -> LinkSiblingsPayload:
    async def run(actor: Actor) -> int:
        apps = await info.context.services.queue.link_siblings(actor, list(input.application_ids))
        group_id = apps[0].sibling_group_id
        assert group_id is not None  # the use case has just linked them
        return group_id

    async def payload(info: I, group_id: int | None, errors: list[UserError]) -> LinkSiblingsPayload:
        """The applications of the sibling group, in the order the caller named them."""
        nodes = []
        if group_id is not None:
            for app_id in input.application_ids:
                node = await visible(info, object_id(app_id))
                if node is not None and node.m.sibling_group_id == group_id:
                    nodes.append(node)
        return LinkSiblingsPayload(applications=nodes, errors=errors)

    return await run_mutation(info, input, (Role.CITIZEN,), run, payload)
