"""Linking the applications of twins (or children of a large family) into one sibling group (docs/product.md §6)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.inputs import object_id
from domain.model import Actor, Role
from graph.applications.mutations import visible
from graph.applications.types import ApplicationNode
from graph.common import ERRORS, I, UserError, idempotency_key
from graph.runner import run_mutation


@strawberry.input(description="Brothers' and sisters' applications to be offered seats together.")
class LinkSiblingsInput:
    application_ids: list[strawberry.ID] = strawberry.field(
        description="Two or more QUEUED, unlinked applications of children sharing a legal representative, ranking "
        "the same kindergartens in the same order, with the same language and group type: twins, or children of a "
        "family of more than two."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.type(description="What linkSiblings answers.")
class LinkSiblingsPayload:
    applications: list[ApplicationNode] = strawberry.field(
        default_factory=list, description="The linked applications, in the order named; empty when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.mutation(
    description="The owner of them all: links siblings' applications into one sibling group, offered seats only "
    "together. Each keeps its own positions; the group is considered when its first member's turn comes."
)
async def link_siblings(
    info: I, input: Annotated[LinkSiblingsInput, strawberry.argument(description="The applications.")]
) -> LinkSiblingsPayload:
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
