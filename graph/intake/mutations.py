"""Creating, publishing and discarding intake runs: an operator of the whole region."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from domain.model import Actor, Role
from graph.common import ERRORS, I, UserError, idempotency_key
from graph.intake.types import IntakeRunNode
from graph.runner import run_mutation


@strawberry.input(description="The region and school year to draft an intake run for.")
class CreateIntakeRunInput:
    region_code: str = strawberry.field(description="The region; the caller must be an operator of all of it.")
    school_year: int = strawberry.field(description="The coming school year: the Y of 1 September Y.")
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="The run to act on.")
class IntakeRunInput:
    run_id: strawberry.ID = strawberry.field(description="The run, a DRAFT.")
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="The draft to publish.")
class PublishIntakeRunInput(IntakeRunInput):
    pass


@strawberry.input(description="The draft to discard.")
class DiscardIntakeRunInput(IntakeRunInput):
    pass


@strawberry.type(description="What a mutation of an intake run answers: the run.")
class IntakeRunPayload:
    intake_run: IntakeRunNode | None = strawberry.field(
        default=None, description="The run as it is after the change; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, run_id: int | None, errors: list[UserError]) -> Self:
        run = await info.context.loaders.intake_run_by_id.load(run_id) if run_id else None
        return cls(intake_run=IntakeRunNode(m=run) if run else None, errors=errors)


@strawberry.type(description="What createIntakeRun answers.")
class CreateIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.type(description="What publishIntakeRun answers.")
class PublishIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.type(description="What discardIntakeRun answers.")
class DiscardIntakeRunPayload(IntakeRunPayload):
    pass


@strawberry.mutation(
    description="Operators of the whole region: computes a DRAFT of the intake for the coming school year (one "
    "draft at a time; none once one is published)."
)
async def create_intake_run(
    info: I, input: Annotated[CreateIntakeRunInput, strawberry.argument(description="The region and year.")]
) -> CreateIntakeRunPayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return (await queue.create_intake_run(actor, input.region_code.strip(), input.school_year)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, CreateIntakeRunPayload.build)


@strawberry.mutation(
    description="Operators of the whole region: computes the draft again on the data as it is now and makes every "
    "offer at once, for 1 September; what changed since the draft is in changesAtPublish."
)
async def publish_intake_run(
    info: I, input: Annotated[PublishIntakeRunInput, strawberry.argument(description="The draft.")]
) -> PublishIntakeRunPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.publish_intake_run(actor, input.run_id)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, PublishIntakeRunPayload.build)


@strawberry.mutation(description="Operators of the whole region: drops a draft, so that another can be made.")
async def discard_intake_run(
    info: I, input: Annotated[DiscardIntakeRunInput, strawberry.argument(description="The draft.")]
) -> DiscardIntakeRunPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.discard_intake_run(actor, input.run_id)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, DiscardIntakeRunPayload.build)
