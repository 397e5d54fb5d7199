"""Priority claims: a category of the child or family, with its evidence and verification status."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import model
from graph.applications.load import APPLICATION, visible_application
from graph.common import ClaimStatus, I, PriorityCategory, PriorityTier
from graph.nodes import Node, node_type
from graph.pages import PageInfo


@node_type("PriorityClaim")
class PriorityClaimNode(Node[model.PriorityClaim]):
    id: strawberry.ID
    category: PriorityCategory
    tier: PriorityTier
    status: ClaimStatus
    evidence_id: str
    manual_deadline: dt.datetime | None = strawberry.field(
        description="Until when an operator may verify it by hand (PENDING_MANUAL claims)."
    )

    @strawberry.field(graphql_type=APPLICATION.graphql_type | None)
    async def application(self, info: I) -> Node[model.Application] | None:
        return await visible_application(info, self.m.application_id)


@strawberry.type
class PriorityClaimEdge:
    node: PriorityClaimNode
    cursor: str


@strawberry.type
class PriorityClaimConnection:
    edges: list[PriorityClaimEdge]
    page_info: PageInfo
