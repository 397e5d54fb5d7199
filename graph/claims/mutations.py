"""Mutations of priority claims: an operator verifies one by hand, or revokes it."""

from __future__ import annotations

from typing import Self

import strawberry

from domain.model import Actor, Role
from graph.claims.types import PriorityClaimNode
from graph.common import I, UserError
from graph.runner import run_mutation


@strawberry.input
class VerifyPriorityClaimInput:
    claim_id: strawberry.ID
    approve: bool
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RevokePriorityClaimInput:
    claim_id: strawberry.ID
    note: str
    idempotency_key: str | None = None


async def _claim(info: I, claim_id: int | None) -> PriorityClaimNode | None:
    found = await info.context.services.reader.claims_by_id([claim_id]) if claim_id else {}
    claim = found.get(claim_id) if claim_id else None
    return PriorityClaimNode(m=claim) if claim else None


@strawberry.type
class ClaimPayload:
    """What a mutation of a priority claim answers: the claim."""

    claim: PriorityClaimNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, claim_id: int | None, errors: list[UserError]) -> Self:
        return cls(claim=await _claim(info, claim_id), errors=errors)


@strawberry.type
class VerifyPriorityClaimPayload(ClaimPayload):
    pass


@strawberry.type
class RevokePriorityClaimPayload(ClaimPayload):
    pass


@strawberry.mutation
async def verify_priority_claim(info: I, input: VerifyPriorityClaimInput) -> VerifyPriorityClaimPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.verify_claim(actor, input.claim_id, input.approve, input.note)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, VerifyPriorityClaimPayload.build)


@strawberry.mutation
async def revoke_priority_claim(info: I, input: RevokePriorityClaimInput) -> RevokePriorityClaimPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.revoke_claim(actor, input.claim_id, input.note)).id

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, RevokePriorityClaimPayload.build)
