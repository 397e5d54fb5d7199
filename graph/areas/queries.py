"""The figures of an area: the operator's own, or any for the ministry."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import access
from graph.access import require_role
from graph.areas.types import AreaStatsNode
from graph.common import I, Role
from graph.errors import not_found


@strawberry.field(
    description="The figures of an area: operators of their own area (a district operator gets their district), the "
    "ministry of any; NOT_FOUND for an area outside the operator's."
)
async def area_stats(
    info: I,
    region_code: Annotated[str, strawberry.argument(description="The region's code.")],
    district_code: Annotated[
        str | None, strawberry.argument(description="One district of the region; the whole region when left out.")
    ] = None,
) -> AreaStatsNode | None:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    if actor.role == Role.AKIMAT_OPERATOR:
        # An operator naming a district reads only it; a region-wide operator may narrow to a district.
        district_code = district_code or actor.district_code
        if not access.in_area(actor, region_code, district_code):
            raise not_found("area")
    return AreaStatsNode(m=await info.context.services.reader.area_figures(region_code, district_code))
