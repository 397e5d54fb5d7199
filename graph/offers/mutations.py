"""Mutations of offers and enrolments: confirm or decline an offer, extend and sign the contract, and leave the
kindergarten."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from domain.model import Actor, Role
from graph.common import ERRORS, I, UserError, idempotency_key
from graph.offers.types import EnrollmentNode, OfferNode, load_offer
from graph.people.types import ChildNode
from graph.runner import run_mutation


@strawberry.input
class OfferInput:
    offer_id: strawberry.ID = strawberry.field(description="The offer.")
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="The offer the parent accepts.")
class ConfirmOfferInput(OfferInput):
    pass


@strawberry.input(description="The offer the parent refuses.")
class DeclineOfferInput(OfferInput):
    pass


@strawberry.input(description="The confirmed offer whose contract needs more time.")
class ExtendContractInput(OfferInput):
    pass


@strawberry.input(description="A contract and the parent's e-signature over it.")
class SignContractInput:
    contract_id: strawberry.ID = strawberry.field(description="The contract.")
    signature: str = strawberry.field(
        description="The signer's e-signature over the contract's documentHash, checked by the e-signature service "
        'with the signer\'s IIN. In the sandbox: base64url(HMAC-SHA256("sandbox-esign:" + IIN, documentHash)), '
        "without padding."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="A child who leaves their kindergarten.")
class LeaveKindergartenInput:
    child_iin: str = strawberry.field(description="The child's IIN.")
    reason: str | None = strawberry.field(
        default=None, description="Why; required from staff and operators, optional for the parent."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.type
class OfferPayload:
    """What a mutation of an offer answers: the offer."""

    offer: OfferNode | None = strawberry.field(
        default=None, description="The offer as it is after the change; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, offer_id: int | None, errors: list[UserError]) -> Self:
        return cls(offer=await load_offer(info, offer_id), errors=errors)


@strawberry.type(description="What confirmOffer answers: the offer, CONFIRMED, with its contract.")
class ConfirmOfferPayload(OfferPayload):
    pass


@strawberry.type(description="What declineOffer answers.")
class DeclineOfferPayload(OfferPayload):
    pass


@strawberry.type(description="What extendContract answers: the offer, its contract's new signing deadline.")
class ExtendContractPayload(OfferPayload):
    pass


@strawberry.type(description="What signContract answers.")
class SignContractPayload:
    offer: OfferNode | None = strawberry.field(default=None, description="The offer, ENROLLED; null when refused.")
    enrollment: EnrollmentNode | None = strawberry.field(
        default=None, description="The enrolment the signature made; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, offer_id: int | None, errors: list[UserError]) -> Self:
        """The signed offer, and the enrolment it ended in."""
        offer = await load_offer(info, offer_id)
        found = await info.context.loaders.enrollment_by_offer_id.load(offer.m.id) if offer is not None else None
        return cls(offer=offer, enrollment=EnrollmentNode(m=found) if found else None, errors=errors)


@strawberry.type(description="What leaveKindergarten answers.")
class LeaveKindergartenPayload:
    child: ChildNode | None = strawberry.field(
        default=None, description="The child who left, with no enrolment any more; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, child_iin: str | None, errors: list[UserError]) -> Self:
        """The child who left, to whoever ended the enrolment, though kindergarten staff no longer see it once
        it has left: the use case let this caller end it, so the caller sees the child as a moment before (the
        IIN it named, the name and birth date). The child's fields show the rest as always: no enrolment any
        more, the application and siblings only to those who may see them (never to staff)."""
        person = await info.context.loaders.person_by_iin.load(child_iin) if child_iin else None
        return cls(child=ChildNode(m=person) if person else None, errors=errors)


@strawberry.mutation(
    description="The owner: accepts a PENDING offer before its deadline. Kezek reads the child's documents from the "
    "health registry and issues the contract; the offer becomes CONFIRMED, the application ENROLLING, and the "
    "contract window starts (5 working days by default)."
)
async def confirm_offer(
    info: I, input: Annotated[ConfirmOfferInput, strawberry.argument(description="The offer.")]
) -> ConfirmOfferPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.confirm_offer(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, ConfirmOfferPayload.build)


@strawberry.mutation(
    description="The owner: refuses a PENDING offer, or a CONFIRMED one not signed yet; the seat goes to the next "
    "child at once. Under the region's DROP_CHOICE (the default) only that kindergarten leaves the choices; under "
    "ANNUL the application closes. An upgrade offer always drops only its choice."
)
async def decline_offer(
    info: I, input: Annotated[DeclineOfferInput, strawberry.argument(description="The offer.")]
) -> DeclineOfferPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.decline_offer(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, DeclineOfferPayload.build)


@strawberry.mutation(
    description="The owner, once per contract: moves the signing deadline to 30 days after the contract was issued; "
    "the text does not change. Refused when it would add no time."
)
async def extend_contract(
    info: I, input: Annotated[ExtendContractInput, strawberry.argument(description="The confirmed offer.")]
) -> ExtendContractPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.extend_contract(actor, input.offer_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, ExtendContractPayload.build)


@strawberry.mutation(
    description="The owner: signs the contract with their e-signature before its deadline. The child is enrolled; "
    "after an upgrade the old seat frees and is offered to the next child."
)
async def sign_contract(
    info: I, input: Annotated[SignContractInput, strawberry.argument(description="The contract and the signature.")]
) -> SignContractPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.sign_contract(actor, input.contract_id, input.signature)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, SignContractPayload.build)


@strawberry.mutation(
    description="The owner, staff of the kindergarten or an operator of its area (with a reason): ends the child's "
    "enrolment. The seat is offered to the next child at once; the child's application, if not final, closes."
)
async def leave_kindergarten(
    info: I, input: Annotated[LeaveKindergartenInput, strawberry.argument(description="The child.")]
) -> LeaveKindergartenPayload:
    async def run(actor: Actor) -> str:
        return await info.context.services.queue.leave_kindergarten(actor, input.child_iin.strip(), input.reason)

    roles = (Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, LeaveKindergartenPayload.build)
