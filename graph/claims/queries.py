"""The akimat operator's work list: priority claims to verify by hand."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.access import require_role
from graph.claims.types import PriorityClaimConnection, PriorityClaimEdge, PriorityClaimNode
from graph.common import I, Role
from graph.pages import AFTER, FIRST, PageInfo, id_cursor, page_size


@strawberry.field(
    description="Operators: the PENDING_MANUAL claims of children of their area (the closed categories, MILITARY and "
    "SPECIAL_STATE_BODY), to approve or reject before each one's manualDeadline."
)
async def priority_claims_to_verify(
    info: I,
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
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
