"""Planned departures (docs/api.md §3 `planDeparture`): staff and operators set the last day of a child's
enrolment, or clear it for a child who stays one more year."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

import strawberry

from domain.model import Actor, Role
from graph.common import ERRORS, I, UserError, idempotency_key
from graph.offers.types import EnrollmentNode
from graph.runner import run_mutation


@strawberry.input(description="A child's last day at its kindergarten.")
class PlanDepartureInput:
    child_iin: str = strawberry.field(description="The enrolled child's IIN.")
    leaves_on: dt.date | None = strawberry.field(
        description="The last day at the kindergarten (not in the past); null clears it: the child stays."
    )
    reason: str | None = strawberry.field(default=None, description="Why, for the audit record (required).")
    idempotency_key: str | None = idempotency_key()


@strawberry.type(description="What planDeparture answers.")
class PlanDeparturePayload:
    enrollment: EnrollmentNode | None = strawberry.field(
        default=None, description="The enrolment with its last day; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, enrollment_id: int | None, errors: list[UserError]) -> Self:
        found = await info.context.loaders.enrollment_by_id.load(enrollment_id) if enrollment_id else None
        return cls(enrollment=EnrollmentNode(m=found) if found else None, errors=errors)


@strawberry.mutation(
    description="Staff of the kindergarten, operators of its area: sets or clears the last day of a child's "
    "enrolment; the seat is free from the day after (offered ahead within the advance window)."
)
async def plan_departure(
    info: I, input: Annotated[PlanDepartureInput, strawberry.argument(description="The child and the day.")]
) -> PlanDeparturePayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return (await queue.plan_departure(actor, input.child_iin.strip(), input.leaves_on, input.reason)).id

    roles = (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, PlanDeparturePayload.build)
