"""Reading intake runs: operators of the run's region, and the ministry."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.inputs import object_id
from domain.model import Actor
from graph.access import require_role
from graph.common import I, Role
from graph.errors import not_found
from graph.intake.types import IntakeRunNode


def _may_read(actor: Actor, region_code: str) -> bool:
    return actor.role == Role.MINISTRY or actor.region_code == region_code


@strawberry.field(description="Operators of the run's region (district operators too), the ministry: one intake run.")
async def intake_run(
    info: I, id: Annotated[strawberry.ID, strawberry.argument(description="The run's id.")]
) -> IntakeRunNode | None:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    run_id = object_id(id)
    run = await info.context.loaders.intake_run_by_id.load(run_id) if run_id else None
    if run is None or not _may_read(actor, run.region_code):
        raise not_found("intake run")
    return IntakeRunNode(m=run)


@strawberry.field(description="Operators of the region, the ministry: the region's intake runs, newest first.")
async def intake_runs(
    info: I,
    region_code: Annotated[str, strawberry.argument(description="The region.")],
    school_year: Annotated[
        int | None, strawberry.argument(description="Only the runs of this school year (the Y of 1 September Y).")
    ] = None,
) -> list[IntakeRunNode]:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    if not _may_read(actor, region_code):
        raise not_found("region")
    return [IntakeRunNode(m=r) for r in await info.context.services.reader.intake_runs(region_code, school_year)]
