"""Creating, publishing and discarding intake runs: an operator of the whole region."""

from __future__ import annotations

from typing import Self

import strawberry

from domain.model import Actor, Role
from graph.common import I, UserError
from graph.intake.types import IntakeRunNode
from graph.runner import run_mutation


@strawberry.input
class CreateIntakeRunInput:
    region_code: str
    school_year: int = strawberry.field(description="The year Y of the school year starting 1 September Y.")
    idempotency_key: str | None = None


@strawberry.input
class IntakeRunInput:
    run_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class PublishIntakeRunInput(IntakeRunInput):
    pass


@strawberry.input
class DiscardIntakeRunInput(IntakeRunInput):
    pass


@strawberry.type
class IntakeRunPayload:
    intake_run: IntakeRunNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, run_id: int | None, errors: list[UserError]) -> Self:
        run = await info.context.loaders.intake_run_by_id.load(run_id) if run_id else None
        return cls(intake_run=IntakeRunNode(m=run) if run else None, errors=errors)


@strawberry.type
class CreateIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.type
class PublishIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.type
class DiscardIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.mutation(description="Computes a DRAFT for the region's coming school year.")
async def create_intake_run(info: I, input: CreateIntakeRunInput) -> CreateIntakeRunPayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return (await queue.create_intake_run(actor, input.region_code.strip(), input.school_year)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, CreateIntakeRunPayload.build)


@strawberry.mutation(description="Makes every offer of the run at once, computed again on the data as it is now.")
async def publish_intake_run(info: I, input: PublishIntakeRunInput) -> PublishIntakeRunPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.publish_intake_run(actor, input.run_id)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, PublishIntakeRunPayload.build)


@strawberry.mutation
async def discard_intake_run(info: I, input: DiscardIntakeRunInput) -> DiscardIntakeRunPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.discard_intake_run(actor, input.run_id)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, DiscardIntakeRunPayload.build)
