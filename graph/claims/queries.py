"""The akimat operator's work list: priority claims to verify by hand."""

from __future__ import annotations

import strawberry

from graph.access import require_role
from graph.claims.types import PriorityClaimConnection, PriorityClaimEdge, PriorityClaimNode
from graph.common import I, Role
from graph.pages import PageInfo, id_cursor, page_size


@strawberry.field(description="PENDING_MANUAL claims of the operator's area.")
async def priority_claims_to_verify(
    info: I, first: int | None = 20, after: str | None = None
) -> PriorityClaimConnection:
    actor = require_role(info, Role.AKIMAT_OPERATOR)
    after_id = id_cursor(after)
    assert actor.region_code is not None
    page = await info.context.services.reader.claims_to_verify(
        actor.region_code, actor.district_code, page_size(first), after_id
    )
    return PriorityClaimConnection(
        edges=[
            PriorityClaimEdge(node=PriorityClaimNode(m=c), cursor=k)
            for c, k in zip(page.items, page.cursors, strict=True)
        ],
        page_info=PageInfo.of(page, after=after),
    )
