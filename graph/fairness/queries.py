"""The fairness report: operators of their own area, the ministry of any area or of the whole country."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from domain import access, fairness
from domain.errors import DomainError
from graph.access import require_role
from graph.common import I, Role
from graph.errors import api_error, not_found
from graph.fairness.types import FairnessReportNode
from persistence.fairness import FairnessRecords


@strawberry.field(
    description="Kezek's fairness over a period, from its records (docs/product.md §11): operators of their own area "
    "(a district operator gets their district), the ministry of any area or, with no region, of the whole country; "
    "NOT_FOUND for an area outside the operator's. It reads the area's whole history of the period: dashboards "
    "ask for it, not for every page."
)
async def fairness_report(
    info: I,
    region_code: Annotated[
        str | None, strawberry.argument(description="The region; the whole country when left out (the ministry).")
    ] = None,
    *,
    start: Annotated[dt.date, strawberry.argument(name="from", description="The period's first day.")],
    end: Annotated[dt.date, strawberry.argument(name="to", description="The day after the period's last day.")],
    district_code: Annotated[
        str | None, strawberry.argument(description="One district of the region; the whole region when left out.")
    ] = None,
) -> FairnessReportNode | None:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    if actor.role == Role.AKIMAT_OPERATOR:
        district_code = district_code or actor.district_code
        if region_code is None or not access.in_area(actor, region_code, district_code):
            raise not_found("area")
    try:
        period = fairness.period(start, end)
    except DomainError as exc:
        raise api_error(exc.code.value, exc.message, field=exc.field or "to") from None
    area = fairness.Area(region_code, district_code)
    records = FairnessRecords(info.context.reader or info.context.services.reader)
    if not await records.known(area):
        raise not_found("area")
    allocator = info.context.services.queue.allocator  # the rule in force: its policies and its clock
    facts = await records.facts(area, period, allocator.clock.now())
    return FairnessReportNode(m=fairness.report(facts, allocator.policies))
