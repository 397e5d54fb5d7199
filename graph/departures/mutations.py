"""Planned departures (docs/api.md §3 `planDeparture`): staff and operators set the last day of a child's
enrolment, or clear it for a child who stays one more year."""

from __future__ import annotations

import datetime as dt
from typing import Self

import strawberry

from domain.model import Actor, Role
from graph.common import I, UserError
from graph.offers.types import EnrollmentNode
from graph.runner import run_mutation


@strawberry.input
class PlanDepartureInput:
    child_iin: str
    leaves_on: dt.date | None = strawberry.field(description="The last day at the kindergarten; null clears it.")
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class PlanDeparturePayload:
    enrollment: EnrollmentNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, enrollment_id: int | None, errors: list[UserError]) -> Self:
        found = await info.context.loaders.enrollment_by_id.load(enrollment_id) if enrollment_id else None
        return cls(enrollment=EnrollmentNode(m=found) if found else None, errors=errors)


@strawberry.mutation
async def plan_departure(info: I, input: PlanDepartureInput) -> PlanDeparturePayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return (await queue.plan_departure(actor, input.child_iin.strip(), input.leaves_on, input.reason)).id

    roles = (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, PlanDeparturePayload.build)
