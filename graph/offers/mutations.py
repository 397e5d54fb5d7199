"""Mutations of offers and enrolments: confirm or decline an offer, extend and sign the contract, and leave the
kindergarten."""

from __future__ import annotations

from typing import Self

import strawberry

from domain.model import Actor, Role
from graph.common import I, UserError
from graph.offers.types import EnrollmentNode, OfferNode, load_offer
from graph.people.types import ChildNode
from graph.runner import run_mutation


@strawberry.input
class OfferInput:
    offer_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ConfirmOfferInput(OfferInput):
    pass


@strawberry.input
class DeclineOfferInput(OfferInput):
    pass


@strawberry.input
class ExtendContractInput(OfferInput):
    pass


@strawberry.input
class SignContractInput:
    contract_id: strawberry.ID
    signature: str
    idempotency_key: str | None = None


@strawberry.input
class LeaveKindergartenInput:
    child_iin: str
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class OfferPayload:
    """What a mutation of an offer answers: the offer."""

    offer: OfferNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, offer_id: int | None, errors: list[UserError]) -> Self:
        return cls(offer=await load_offer(info, offer_id), errors=errors)


@strawberry.type
class ConfirmOfferPayload(OfferPayload):
    pass


@strawberry.type
class DeclineOfferPayload(OfferPayload):
    pass


@strawberry.type
class ExtendContractPayload(OfferPayload):
    pass


@strawberry.type
class SignContractPayload:
    offer: OfferNode | None = None
    enrollment: EnrollmentNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, offer_id: int | None, errors: list[UserError]) -> Self:
        """The signed offer, and the enrolment it ended in."""
        offer = await load_offer(info, offer_id)
        found = await info.context.loaders.enrollment_by_offer_id.load(offer.m.id) if offer is not None else None
        return cls(offer=offer, enrollment=EnrollmentNode(m=found) if found else None, errors=errors)


@strawberry.type
class LeaveKindergartenPayload:
    child: ChildNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, child_iin: str | None, errors: list[UserError]) -> Self:
        """The child who left, to whoever ended the enrolment, though kindergarten staff no longer see it once
        it has left: the use case let this caller end it, so the caller sees the child as a moment before (the
        IIN it named, the name and birth date). The child's fields show the rest as always: no enrolment any
        more, the application and siblings only to those who may see them (never to staff)."""
        person = await info.context.loaders.person_by_iin.load(child_iin) if child_iin else None
        return cls(child=ChildNode(m=person) if person else None, errors=errors)


@strawberry.mutation
async def confirm_offer(info: I, input: ConfirmOfferInput) -> ConfirmOfferPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.confirm_offer(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, ConfirmOfferPayload.build)


@strawberry.mutation
async def decline_offer(info: I, input: DeclineOfferInput) -> DeclineOfferPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.decline_offer(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, DeclineOfferPayload.build)


@strawberry.mutation
async def extend_contract(info: I, input: ExtendContractInput) -> ExtendContractPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.extend_contract(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, ExtendContractPayload.build)


@strawberry.mutation
async def sign_contract(info: I, input: SignContractInput) -> SignContractPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.sign_contract(actor, input.contract_id, input.signature)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, SignContractPayload.build)


@strawberry.mutation
async def leave_kindergarten(info: I, input: LeaveKindergartenInput) -> LeaveKindergartenPayload:
    async def run(actor: Actor) -> str:
        return await info.context.services.queue.leave_kindergarten(actor, input.child_iin.strip(), input.reason)

    roles = (Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, LeaveKindergartenPayload.build)
