"""The figures of an area: the operator's own, or any for the ministry."""

from __future__ import annotations

import strawberry

from domain import access
from graph.access import require_role
from graph.areas.types import AreaStatsNode
from graph.common import I, Role
from graph.errors import not_found


@strawberry.field
async def area_stats(info: I, region_code: str, district_code: str | None = None) -> AreaStatsNode | None:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    if actor.role == Role.AKIMAT_OPERATOR:
        # An operator naming a district reads only it; a region-wide operator may narrow to a district.
        district_code = district_code or actor.district_code
        if not access.in_area(actor, region_code, district_code):
            raise not_found("area")
    return AreaStatsNode(m=await info.context.services.reader.area_figures(region_code, district_code))
