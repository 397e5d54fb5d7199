"""Priority claims: a category of the child or family, with its evidence and verification status."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import model
from graph.applications.load import APPLICATION, visible_application
from graph.common import ClaimStatus, I, PriorityCategory, PriorityTier
from graph.nodes import Node, node_type
from graph.pages import PageInfo


@node_type(
    "PriorityClaim",
    description="A priority category the benefits registry found for the child or a legal representative, with its "
    "evidence and its verification.",
)
class PriorityClaimNode(Node[model.PriorityClaim]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the claim: what operators' mutations name.")
    category: PriorityCategory = strawberry.field(description="The category.")
    tier: PriorityTier = strawberry.field(description="The tier the category gives once VERIFIED.")
    status: ClaimStatus = strawberry.field(description="Where it stands.")
    evidence_id: str = strawberry.field(description="The benefits registry's id of its evidence.")
    manual_deadline: dt.datetime | None = strawberry.field(
        description="Until when an operator may verify it by hand (PENDING_MANUAL claims)."
    )

    @strawberry.field(
        description="The application it counts for; null for a caller who may not see it.",
        graphql_type=APPLICATION.graphql_type | None,
    )
    async def application(self, info: I) -> Node[model.Application] | None:
        return await visible_application(info, self.m.application_id)


@strawberry.type(description="A claim of a page, with its cursor.")
class PriorityClaimEdge:
    node: PriorityClaimNode = strawberry.field(description="The claim.")
    cursor: str = strawberry.field(description="Pass as `after` to read the claims after this one.")


@strawberry.type(description="A page of claims to verify, oldest first.")
class PriorityClaimConnection:
    edges: list[PriorityClaimEdge] = strawberry.field(description="The page's claims.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
