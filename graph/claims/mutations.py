"""Mutations of priority claims: an operator verifies one by hand, or revokes it."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from domain.model import Actor, Role
from graph.claims.types import PriorityClaimNode
from graph.common import ERRORS, I, UserError, idempotency_key
from graph.runner import run_mutation


@strawberry.input(description="An operator's decision on a claim waiting for one.")
class VerifyPriorityClaimInput:
    claim_id: strawberry.ID = strawberry.field(description="The claim: PENDING_MANUAL, or EXPIRED (re-opened).")
    approve: bool = strawberry.field(description="true: VERIFIED, the tier may rise; false: REJECTED.")
    note: str | None = strawberry.field(default=None, description="What was checked, for the audit record.")
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="A verified claim found false.")
class RevokePriorityClaimInput:
    claim_id: strawberry.ID = strawberry.field(description="The VERIFIED claim.")
    note: str = strawberry.field(description="Why; must not be blank.")
    idempotency_key: str | None = idempotency_key()


async def _claim(info: I, claim_id: int | None) -> PriorityClaimNode | None:
    found = await info.context.services.reader.claims_by_id([claim_id]) if claim_id else {}
    claim = found.get(claim_id) if claim_id else None
    return PriorityClaimNode(m=claim) if claim else None


@strawberry.type
class ClaimPayload:
    """What a mutation of a priority claim answers: the claim."""

    claim: PriorityClaimNode | None = strawberry.field(
        default=None, description="The claim as it is after the decision; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, claim_id: int | None, errors: list[UserError]) -> Self:
        return cls(claim=await _claim(info, claim_id), errors=errors)


@strawberry.type(description="What verifyPriorityClaim answers.")
class VerifyPriorityClaimPayload(ClaimPayload):
    pass


@strawberry.type(description="What revokePriorityClaim answers.")
class RevokePriorityClaimPayload(ClaimPayload):
    pass


@strawberry.mutation(
    description="Operators of the child's area: approve or reject a claim waiting for a person. An approval "
    "recomputes the tier at once (the queue date stays), and moves the child in every queue."
)
async def verify_priority_claim(
    info: I, input: Annotated[VerifyPriorityClaimInput, strawberry.argument(description="The claim and the decision.")]
) -> VerifyPriorityClaimPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.verify_claim(actor, input.claim_id, input.approve, input.note)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, VerifyPriorityClaimPayload.build)


@strawberry.mutation(
    description="Operators of the child's area: revoke a verified claim found false. The tier is recomputed at once, "
    "the queue date stays; a live offer made on a higher tier ends CANCELLED and its seat goes to the next child; an "
    "enrolment stays."
)
async def revoke_priority_claim(
    info: I, input: Annotated[RevokePriorityClaimInput, strawberry.argument(description="The claim and the note.")]
) -> RevokePriorityClaimPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.revoke_claim(actor, input.claim_id, input.note)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, RevokePriorityClaimPayload.build)
